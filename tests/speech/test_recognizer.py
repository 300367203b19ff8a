"""The recogniser with the real packaged Vosk model and espeak-ng speech: never a faked result."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.speech.recognizer import (
    Heard,
    RecognitionFailed,
    SpeechModelError,
    SpeechRecognition,
    grammar_json,
)
from tests.speech.voices import CONSULTANT, HELLO, RELIABLE, THANK_YOU, WORK_ABROAD, model_path, pcm, spoken

FRAME = 320
BATCH = 5 * FRAME


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("voices")


@pytest.fixture(scope="module")
async def recognition() -> AsyncIterator[SpeechRecognition]:
    loaded = await SpeechRecognition.load(str(model_path()), streams=2)
    assert loaded is not None
    yield loaded
    await loaded.close()


async def recognise(
    recognition: SpeechRecognition, audio: bytes, phrases: tuple[str, ...] = RELIABLE
) -> Heard:
    stream = recognition.stream(phrases)
    assert stream is not None
    with stream:
        for start in range(0, len(audio), BATCH):
            await stream.accept(audio[start : start + BATCH])
        return await stream.result()


def test_the_grammar_keeps_korean_letters() -> None:
    assert grammar_json(["해외 취업", "상담원", "상담원"]) == '["상담원", "해외 취업"]'


@pytest.mark.parametrize("phrase", [HELLO, CONSULTANT, WORK_ABROAD])
async def test_a_spoken_phrase_is_recognised(
    recognition: SpeechRecognition, voices: Path, phrase: str
) -> None:
    # Half a second of line silence after the phrase, as on a call.
    heard = await recognise(recognition, pcm(spoken(phrase, voices)) + bytes(8000))
    assert heard.text == phrase
    assert heard.confidence > 0.8


async def test_silence_is_heard_as_nothing(recognition: SpeechRecognition) -> None:
    heard = await recognise(recognition, bytes(16000 * 3))
    assert heard == Heard("", 0.0)
    assert heard.silent


async def test_a_phrase_outside_the_grammar_is_not_one_of_its_phrases(
    recognition: SpeechRecognition, voices: Path
) -> None:
    heard = await recognise(recognition, pcm(spoken(THANK_YOU, voices)))
    assert heard.text not in RELIABLE


async def test_end_of_speech_is_detected_during_the_stream(
    recognition: SpeechRecognition, voices: Path
) -> None:
    audio = pcm(spoken(WORK_ABROAD, voices)) + bytes(16000 * 3)  # the phrase, then 3 s of silence
    stream = recognition.stream(RELIABLE)
    assert stream is not None
    with stream:
        for start in range(0, len(audio), BATCH):
            if await stream.accept(audio[start : start + BATCH]):
                break
        else:
            pytest.fail("no end of speech within 3 s of silence")
        # Found within about a second of silence after the phrase, not at the end of the audio.
        assert stream.audio_seconds < len(audio) / 16000 - 1.5
        assert (await stream.result()).text == WORK_ABROAD


async def test_the_pool_is_bounded(recognition: SpeechRecognition) -> None:
    first, second = recognition.stream(RELIABLE), recognition.stream(RELIABLE)
    assert first is not None and second is not None
    refused = recognition.refused
    assert recognition.stream(RELIABLE) is None  # full: this caller gets the keys
    assert recognition.refused == refused + 1
    first.release()
    first.release()  # idempotent
    third = recognition.stream(RELIABLE)
    assert third is not None
    third.release()
    second.release()
    assert recognition.busy == 0


async def test_recognition_runs_off_the_event_loop(recognition: SpeechRecognition, voices: Path) -> None:
    """Recognising a long piece of audio at once takes a while; the loop keeps ticking meanwhile."""
    audio = pcm(spoken(HELLO, voices)) * 8  # about 10 s of speech, handed over in one piece
    gaps: list[float] = []
    loop = asyncio.get_running_loop()

    async def ticker(stop: asyncio.Event) -> None:
        last = loop.time()
        while not stop.is_set():
            await asyncio.sleep(0.001)
            now = loop.time()
            gaps.append(now - last)
            last = now

    stop = asyncio.Event()
    ticking = asyncio.create_task(ticker(stop))
    stream = recognition.stream(RELIABLE)
    assert stream is not None
    with stream:
        started = loop.time()
        await stream.accept(audio)
        took = loop.time() - started
    stop.set()
    await ticking
    # On the loop, one tick would have waited the whole recognition.
    assert took > 0.05
    assert max(gaps) < took / 2


async def test_no_model_means_speech_is_off(caplog: pytest.LogCaptureFixture) -> None:
    assert await SpeechRecognition.load("", streams=2) is None
    assert "speech recognition is off" in caplog.text


async def test_a_folder_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpeechModelError, match="not a Vosk model folder"):
        await SpeechRecognition.load(str(tmp_path), streams=2)


async def test_the_model_is_loaded_once_per_recogniser_process(recognition: SpeechRecognition) -> None:
    """Recognition runs in processes of its own (the streams are spread over them), not in this one."""
    assert len(recognition.pids) == 2
    assert os.getpid() not in recognition.pids
    first, second = recognition.stream(RELIABLE), recognition.stream(RELIABLE)
    assert first is not None and second is not None
    with first, second:
        assert {first.process_id, second.process_id} == set(recognition.pids)


async def test_recogniser_processes_yield_the_cpu_to_calls(recognition: SpeechRecognition) -> None:
    """Lower priority than the FastAGI process, and batch: a recogniser woken by audio preempts no call."""
    for pid in recognition.pids:
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0) + 10
        assert os.sched_getscheduler(pid) == os.SCHED_BATCH


async def wait_for_replacement(recognition: SpeechRecognition, gone: int) -> None:
    async with asyncio.timeout(30):
        await recognition.all_up()
    assert gone not in recognition.pids
    assert len(recognition.pids) == recognition.process_count


async def test_a_crashed_recogniser_process_fails_its_stream_and_is_replaced(
    voices: Path, caplog: pytest.LogCaptureFixture
) -> None:
    audio = pcm(spoken(HELLO, voices)) + bytes(8000)
    recognition = await SpeechRecognition.load(str(model_path()), streams=2, processes=1)
    assert recognition is not None
    try:
        stream = recognition.stream(RELIABLE)
        assert stream is not None
        with stream:
            await stream.accept(audio[:BATCH])
            (crashed,) = recognition.pids
            os.kill(crashed, signal.SIGKILL)
            with pytest.raises(RecognitionFailed):
                for start in range(BATCH, len(audio), BATCH):
                    await stream.accept(audio[start : start + BATCH])
                await stream.result()
        assert recognition.busy == 0
        await wait_for_replacement(recognition, crashed)
        assert f"speech recogniser process {crashed} ended" in caplog.text
        assert recognition.replaced == 1
        heard = await recognise(recognition, audio)  # the replacement recognises as before
        assert heard.text == HELLO
    finally:
        await recognition.close()
    assert recognition.pids == []


async def test_a_stalled_recogniser_process_is_a_bounded_wait_and_is_replaced(voices: Path) -> None:
    audio = pcm(spoken(HELLO, voices)) + bytes(8000)
    recognition = await SpeechRecognition.load(
        str(model_path()), streams=2, processes=1, request_timeout_s=1.0
    )
    assert recognition is not None
    try:
        stream = recognition.stream(RELIABLE)
        assert stream is not None
        (stalled,) = recognition.pids
        os.kill(stalled, signal.SIGSTOP)  # it never answers again (and is killed, stopped or not)
        with stream, pytest.raises(RecognitionFailed, match="stalled"):
            await stream.accept(audio[:BATCH])
        await wait_for_replacement(recognition, stalled)
        assert (await recognise(recognition, audio)).text == HELLO
    finally:
        await recognition.close()
