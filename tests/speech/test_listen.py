"""Hearing an answer: the listener with the real AudioSocket server and the real recogniser, and a socket
peer that plays Asterisk's AudioSocket() behind the AGI ``EXEC`` (connects, streams the caller's audio,
forwards keys, returns when the server sends the hang-up frame)."""

from __future__ import annotations

import array
import asyncio
import math
import os
import signal
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.fastagi import CallerHungUp
from ivr.speech.audiosocket import Audio, FrameParser, Hangup, encode_audio, encode_dtmf, encode_uuid
from ivr.speech.listen import ListenLimits, SpeechListener
from ivr.speech.recognizer import SpeechRecognition
from ivr.speech.server import AudioSocketServer
from tests.speech.voices import CONSULTANT, HELLO, RELIABLE, WORK_ABROAD, model_path, pcm, spoken

FRAME = 320
LIMITS = ListenLimits(connect_s=1.0, no_speech_s=1.0, answer_s=4.0, end_s=2.0, keepalive_s=0.2)


class AudioSocketApplication:
    """What ``EXEC AudioSocket <id>,<host:port>`` does on the Asterisk side, as a channel's ``exec``."""

    def __init__(self, audio: bytes = b"", *, key_after: int | None = None, connect: bool = True) -> None:
        self.audio = audio
        self.key_after = key_after  # frames, then a key
        self.connect = connect
        self.received: list[object] = []
        self.hang_up = False  # the caller hangs up in the middle

    async def exec(self, application: str, *args: str) -> str:
        assert application == "AudioSocket"
        call_id, address = args
        if not self.connect:
            return "-1"  # AudioSocket() could not connect
        host, port = address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(encode_uuid(uuid.UUID(call_id)))
        parser = FrameParser()

        async def listen() -> None:
            while data := await reader.read(4096):
                self.received += parser.feed(data)
                if any(isinstance(m, Hangup) for m in self.received):
                    return

        hearing = asyncio.create_task(listen())
        for index, start in enumerate(range(0, len(self.audio), FRAME)):
            if hearing.done():
                break
            if index == self.key_after:
                writer.write(encode_dtmf("5"))
            if self.hang_up and index == 10:
                writer.close()
                raise CallerHungUp("EXEC: the caller hung up")
            writer.write(encode_audio(self.audio[start : start + FRAME]))
            await writer.drain()
            await asyncio.sleep(0.002)  # faster than real time, in order
        async with asyncio.timeout(5):
            await hearing
        writer.close()
        return "0"


@pytest.fixture(scope="module")
async def listener() -> AsyncIterator[SpeechListener]:
    recognition = await SpeechRecognition.load(str(model_path()), streams=1)
    assert recognition is not None
    server = AudioSocketServer(port=0)
    await server.start()
    yield SpeechListener(server, recognition, LIMITS)
    await server.close()
    await recognition.close()


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("voices")


async def hear(listener: SpeechListener, asterisk: AudioSocketApplication):  # type: ignore[no-untyped-def]
    stream = listener.reserve(RELIABLE)
    assert stream is not None
    with stream:
        return await listener.listen(asterisk, stream)


async def test_an_answer_is_heard_and_the_application_ended(listener: SpeechListener, voices: Path) -> None:
    audio = pcm(spoken(WORK_ABROAD, voices)) + bytes(16000 * 3)
    asterisk = AudioSocketApplication(audio)
    listened = await hear(listener, asterisk)
    assert listened.outcome == "heard"
    assert listened.heard is not None and listened.heard.text == WORK_ABROAD
    assert listened.result_ms is not None and listened.result_ms < 800
    assert isinstance(asterisk.received[-1], Hangup)  # the application ends cleanly
    assert listener.recognition.busy == 0


async def test_a_key_while_listening_answers_at_once(listener: SpeechListener, voices: Path) -> None:
    asterisk = AudioSocketApplication(pcm(spoken(CONSULTANT, voices)), key_after=5)
    listened = await hear(listener, asterisk)
    assert (listened.outcome, listened.key) == ("key", "5")


async def test_silence_is_heard_as_nothing_within_the_limit(listener: SpeechListener) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    listened = await hear(listener, AudioSocketApplication(bytes(16000 * 3)))
    assert listened.outcome == "silence"
    assert loop.time() - started < LIMITS.no_speech_s + 1.5


async def test_a_caller_leg_that_sends_nothing_is_kept_up_and_heard_as_silence(
    listener: SpeechListener,
) -> None:
    asterisk = AudioSocketApplication(b"")  # no audio at all: only our keep-alive silence flows
    listened = await hear(listener, asterisk)
    assert listened.outcome == "silence"
    keepalives = [m for m in asterisk.received if not isinstance(m, Hangup)]
    assert len(keepalives) >= 3  # every 0.2 s during the second of listening


async def test_an_application_that_cannot_connect_is_a_failure_not_an_error(listener: SpeechListener) -> None:
    listened = await hear(listener, AudioSocketApplication(connect=False))
    assert listened.outcome == "failed"


async def test_a_hang_up_while_listening_reaches_the_ivr(listener: SpeechListener, voices: Path) -> None:
    asterisk = AudioSocketApplication(pcm(spoken(CONSULTANT, voices)) + bytes(16000))
    asterisk.hang_up = True
    with pytest.raises(CallerHungUp):
        await hear(listener, asterisk)
    assert listener.recognition.busy == 0
    assert list(listener.server.waiting) == []


async def test_a_recogniser_process_that_crashes_while_listening_gives_the_keys(
    listener: SpeechListener, voices: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recognition = listener.recognition
    stream = listener.reserve(RELIABLE)
    assert stream is not None
    with stream:
        (crashed,) = recognition.pids
        os.kill(crashed, signal.SIGKILL)
        asterisk = AudioSocketApplication(pcm(spoken(CONSULTANT, voices)) + bytes(16000))
        listened = await listener.listen(asterisk, stream)
    assert listened.outcome == "failed"  # the menu then gives the keys
    assert isinstance(asterisk.received[-1], Hangup)  # the application still ends cleanly
    assert "recognition failed" in caplog.text
    async with asyncio.timeout(30):  # replaced, for the tests after this one
        await recognition.all_up()
    assert crashed not in recognition.pids


def tone(seconds: float) -> bytes:
    """A prompt: a 440 Hz tone, 8 kHz 16-bit mono."""
    samples = array.array(
        "h", (int(8000 * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(int(8000 * seconds)))
    )
    return samples.tobytes()


def prompt_heard(asterisk: AudioSocketApplication) -> bytes:
    """What the listener played to the caller, keep-alive silence left out."""
    return b"".join(m.pcm for m in asterisk.received if isinstance(m, Audio) and any(m.pcm))


async def test_the_question_is_played_over_the_audiosocket_to_its_end(listener: SpeechListener) -> None:
    prompt = tone(1.0)
    asterisk = AudioSocketApplication(b"")  # a caller who says nothing
    stream = listener.reserve(RELIABLE)
    assert stream is not None
    with stream:
        listened = await listener.listen(asterisk, stream, prompt=prompt)
    assert listened.outcome == "silence"
    assert not listened.barged_in
    assert prompt_heard(asterisk) == prompt  # every frame, in order


async def test_words_said_over_the_question_cut_it_and_are_heard(
    listener: SpeechListener, voices: Path
) -> None:
    prompt = tone(20.0)  # far longer than the answer: it is still playing when the caller speaks
    asterisk = AudioSocketApplication(pcm(spoken(WORK_ABROAD, voices)) + bytes(16000 * 2))
    stream = listener.reserve(RELIABLE)
    assert stream is not None
    with stream:
        listened = await listener.listen(asterisk, stream, prompt=prompt)
    assert listened.outcome == "heard"
    assert listened.heard is not None and listened.heard.text == WORK_ABROAD
    assert listened.barged_in
    played = prompt_heard(asterisk)
    assert 0 < len(played) < len(prompt) and prompt.startswith(played)  # cut, not played to its end


async def test_a_key_pressed_during_the_question_cuts_it(listener: SpeechListener, voices: Path) -> None:
    asterisk = AudioSocketApplication(bytes(16000), key_after=5)
    stream = listener.reserve(RELIABLE)
    assert stream is not None
    with stream:
        listened = await listener.listen(asterisk, stream, prompt=tone(20.0))
    assert (listened.outcome, listened.key, listened.barged_in) == ("key", "5", True)


async def test_prompt_audio_is_read_from_the_prompts_folder(tmp_path: Path, listener: SpeechListener) -> None:
    (tmp_path / "pl").mkdir()
    with wave.open(str(tmp_path / "pl" / "question.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(tone(0.5))
    with wave.open(str(tmp_path / "pl" / "wideband.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(tone(0.5))
    reader = SpeechListener(listener.server, listener.recognition, prompts_dir=tmp_path)
    assert await reader.prompt_audio([("pl", "question"), ("pl", "question")]) == tone(0.5) * 2
    # Asterisk plays these itself (no barge-in by voice for them): another format, a missing file, no folder.
    assert await reader.prompt_audio([("pl", "question"), ("pl", "wideband")]) is None
    assert await reader.prompt_audio([("pl", "missing")]) is None
    assert await listener.prompt_audio([("pl", "question")]) is None


async def test_once_words_cut_the_question_the_stream_is_still_kept_up(
    listener: SpeechListener, voices: Path
) -> None:
    words = pcm(spoken(HELLO, voices))
    # The caller's leg sends the start of the words, then nothing: the listener waits for the rest.
    asterisk = AudioSocketApplication(words[: len(words) * 3 // 4 // FRAME * FRAME])
    stream = listener.reserve(RELIABLE)
    assert stream is not None
    with stream:
        listened = await listener.listen(asterisk, stream, prompt=tone(20.0))
    assert listened.barged_in
    keepalives = [m for m in asterisk.received if isinstance(m, Audio) and not any(m.pcm)]
    assert len(keepalives) >= 3  # every 0.2 s of the answer's time (4 s) after the cut
