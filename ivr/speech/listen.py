"""Hearing a caller's spoken answer on a live call: AudioSocket from Asterisk to a recognition stream.

:meth:`SpeechListener.listen` runs ``AudioSocket(<call id>,<our address>)`` on the call's AGI channel (the
command blocks that AGI session while the stream lasts), takes the stream the server hands over, feeds the
caller's audio to a recogniser with the question's grammar, and ends the stream with AudioSocket's hang-up
frame, which makes the application return: the AGI command ends and the IVR goes on. A key pressed meanwhile
(AudioSocket forwards DTMF) answers at once. Every wait is bounded; anything that goes wrong is an outcome
(``busy``, ``failed``), never an error for the caller, who then gets the keys. No audio is kept.

Barge-in by voice: the question itself is played over the same AudioSocket (the protocol carries audio both
ways; an AGI channel cannot play a file and run ``AudioSocket()`` at once), in real time, while the caller's
audio is already recognised. Once the recogniser hears words, the prompt stops and the answer is heard to
its end; the caller's time to answer starts when the prompt ends. :meth:`SpeechListener.prompt_audio` reads
the question's prompts (8 kHz 16-bit mono WAVs, as ``hotline prompts`` builds them) from ``prompts_dir``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from ivr.fastagi import AgiProtocolError
from ivr.speech.audiosocket import FRAME_BYTES_8K, AudioSocketProtocolError, Dtmf
from ivr.speech.recognizer import (
    SAMPLE_RATE,
    Heard,
    RecognitionFailed,
    RecognitionStream,
    SpeechRecognition,
)
from ivr.speech.server import AudioSocketServer, AudioSocketTimeout, AudioStream, ExpectedStream

__all__ = ["ListenLimits", "Listened", "SpeechChannel", "SpeechListener"]

log = logging.getLogger(__name__)

Outcome = Literal["heard", "silence", "key", "busy", "failed"]


class SpeechChannel(Protocol):
    """The part of ``ivr.fastagi.Channel`` a spoken answer needs."""

    async def exec(self, application: str, *args: str) -> str: ...


@dataclass(frozen=True)
class Listened:
    """How a spoken question was answered: words (``heard``; ``silence`` when none), a key, or not at all
    (``busy``: every recognition stream was taken; ``failed``: the audio never came or broke)."""

    outcome: Outcome
    heard: Heard | None = None
    key: str | None = None
    # From the end of the caller's speech (or of the answer's time) to the result, for the benchmark.
    result_ms: float | None = None
    barged_in: bool = False  # the caller spoke (or pressed a key) while the question was still playing


@dataclass(frozen=True)
class ListenLimits:
    connect_s: float = 3.0  # from the AGI command to Asterisk's connection
    no_speech_s: float = 5.0  # the caller says nothing at all
    answer_s: float = 10.0  # the longest answer listened to
    # Asterisk ends AudioSocket() after 2 s without a frame either way, and a caller's leg may send no
    # audio at all while they are silent: a frame of silence to the caller keeps the stream up.
    keepalive_s: float = 0.5
    end_s: float = 5.0  # from our hang-up frame to the end of the AGI command
    batch_bytes: int = 1600  # audio handed to the recogniser at once: 100 ms


class SpeechListener:
    def __init__(
        self,
        server: AudioSocketServer,
        recognition: SpeechRecognition,
        limits: ListenLimits | None = None,
        *,
        prompts_dir: Path | None = None,
    ) -> None:
        self.server = server
        self.recognition = recognition
        self.limits = limits or ListenLimits()
        # The prompts' WAVs on this side ({prompts_dir}/{language}/{prompt id}.wav); None: questions are
        # played by Asterisk before listening (no barge-in by voice).
        self.prompts_dir = prompts_dir
        self._prompts: dict[tuple[str, str], bytes | None] = {}

    async def prompt_audio(self, prompts: Sequence[tuple[str, str]]) -> bytes | None:
        """The audio of ``(language, prompt id)`` prompts one after the other, to play over AudioSocket; None
        when any of them cannot be (no ``prompts_dir``, a missing file, another format: logged once)."""
        if self.prompts_dir is None:
            return None
        pieces: list[bytes] = []
        for language, prompt_id in prompts:
            if (language, prompt_id) not in self._prompts:
                path = self.prompts_dir / language / f"{prompt_id}.wav"
                self._prompts[(language, prompt_id)] = await asyncio.to_thread(_read_prompt, path)
            audio = self._prompts[(language, prompt_id)]
            if audio is None:
                return None
            pieces.append(audio)
        return b"".join(pieces)

    def reserve(self, phrases: Sequence[str]) -> RecognitionStream | None:
        """A recognition stream for the question about to be asked, or None when every one is busy (the
        caller then gets the keys at once). Release it (``with``) when the question is over."""
        stream = self.recognition.stream(phrases)
        if stream is None:
            log.info("every speech stream is busy (%d): the caller gets the keys", self.recognition.capacity)
        return stream

    async def listen(
        self, channel: SpeechChannel, stream: RecognitionStream, prompt: bytes = b""
    ) -> Listened:
        """Hear one answer (or a key) on ``channel`` with a stream from :meth:`reserve`, while playing
        ``prompt`` (8 kHz 16-bit mono, from :meth:`prompt_audio`; empty: none) to the caller; raises only
        what the channel raises (``CallerHungUp``), or ``AgiProtocolError`` when Asterisk never ends the
        application."""
        with self.server.expect() as expected:
            application = asyncio.create_task(
                channel.exec("AudioSocket", str(expected.call_id), self.server.address),
                name=f"audiosocket {expected.call_id}",
            )
            try:
                audio = await self._connect(expected, application)
                if audio is None:
                    return Listened("failed")
                try:
                    return await self._hear(audio, stream, prompt)
                finally:
                    await audio.close()
            finally:
                await self._end(application)

    async def _connect(self, expected: ExpectedStream, application: asyncio.Task[str]) -> AudioStream | None:
        connecting = asyncio.create_task(expected.connected(self.limits.connect_s))
        try:
            await asyncio.wait({connecting, application}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not connecting.done():
                connecting.cancel()
        if connecting.done() and not connecting.cancelled():
            if connecting.exception() is None:
                return connecting.result()
            log.warning("AudioSocket: %s", connecting.exception())
            return None
        log.warning("AudioSocket() ended before connecting (result %s)", _result(application))
        return None

    async def _hear(self, audio: AudioStream, stream: RecognitionStream, prompt: bytes) -> Listened:
        limits = self.limits
        loop = asyncio.get_running_loop()
        buffered = bytearray()
        speech_ended: float | None = None
        speaker = _PromptPlayer(audio, prompt, limits.keepalive_s)
        try:
            while True:
                now = loop.time()
                # The time to answer runs from the end of the prompt (cut short when the caller speaks).
                base = speaker.ended_at if speaker.ended_at is not None else max(now, speaker.planned_end)
                deadline = base + (limits.answer_s if stream.spoke else limits.no_speech_s)
                if now >= deadline:
                    break
                try:
                    message = await audio.receive(min(deadline - now, _RECHECK_S))
                except AudioSocketTimeout:
                    continue  # nothing from the caller's side for a while: the deadline decides
                if message is None:
                    break  # Asterisk ended the stream: the caller has most likely hung up
                if isinstance(message, Dtmf):
                    return Listened("key", key=message.digit, barged_in=speaker.cut())
                buffered += message.pcm
                if len(buffered) >= limits.batch_bytes:
                    fed = time.monotonic()
                    ended = await stream.accept(bytes(buffered))
                    buffered.clear()
                    if stream.spoke and speaker.cut():
                        log.info("AudioSocket stream %s: the caller speaks over the prompt", audio.call_id)
                    if ended:
                        speech_ended = fed
                        break
            # End of speech: the audio in which Vosk found it was handed over (or the answer's time ran out).
            finished = speech_ended or time.monotonic()
            heard = await stream.result()
        except AudioSocketProtocolError as exc:
            log.warning("AudioSocket stream %s: %s", audio.call_id, exc)
            return Listened("failed")
        except RecognitionFailed as exc:
            log.warning(
                "AudioSocket stream %s: recognition failed (%s): the caller gets the keys", audio.call_id, exc
            )
            return Listened("failed")
        finally:
            await speaker.close()
        result_ms = (time.monotonic() - finished) * 1000
        outcome: Outcome = "heard" if heard.text else "silence"
        return Listened(outcome, heard=heard, result_ms=result_ms, barged_in=speaker.was_cut)

    async def _end(self, application: asyncio.Task[str]) -> None:
        """Wait for the AGI command to end (our hang-up frame ends the application); bounded: an Asterisk
        that never answers leaves the channel unusable, and the AGI server's edge falls back to a queue."""
        try:
            async with asyncio.timeout(self.limits.end_s):
                result = await asyncio.shield(application)
        except TimeoutError:
            application.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await application
            raise AgiProtocolError(f"AudioSocket() did not end within {self.limits.end_s:g} s") from None
        if result not in ("0", ""):
            log.info("AudioSocket() returned %s", result)


_RECHECK_S = 0.5  # the longest wait for the caller's audio before the deadlines are looked at again


class _PromptPlayer:
    """Plays a prompt to the caller over the AudioSocket in real time (20 ms frames, each sent when due,
    however late the loop was), until it ends or :meth:`cut` stops it; then keeps the stream up with a
    frame of silence every ``keepalive_s`` (Asterisk ends ``AudioSocket()`` after 2 s without a frame
    either way, and a silent caller's leg may send none)."""

    def __init__(self, audio: AudioStream, prompt: bytes, keepalive_s: float) -> None:
        self._audio = audio
        self._prompt = prompt[: len(prompt) - len(prompt) % FRAME_BYTES_8K]
        self._keepalive_s = keepalive_s
        loop = asyncio.get_running_loop()
        self.started = loop.time()
        self.planned_end = self.started + len(self._prompt) / (2 * SAMPLE_RATE)
        self.ended_at: float | None = None if self._prompt else self.started
        self.was_cut = False
        self._stopped = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"audiosocket prompt {audio.call_id}")

    def cut(self) -> bool:
        """Stop the prompt (the caller speaks or pressed a key); True when it was still playing."""
        if self.ended_at is not None:
            return False
        self.ended_at = asyncio.get_running_loop().time()
        self.was_cut = True
        self._stopped.set()
        return True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        frames = len(self._prompt) // FRAME_BYTES_8K
        for index in range(frames):
            if self._stopped.is_set() or self._audio.ended:
                break
            start = index * FRAME_BYTES_8K
            await self._audio.send_audio(self._prompt[start : start + FRAME_BYTES_8K])
            # Frame n+1 is due at start + (n+1) * 20 ms.
            delay = self.started + (index + 1) * _FRAME_S - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._stopped.wait()
        if self.ended_at is None:
            self.ended_at = loop.time()
        silence = bytes(FRAME_BYTES_8K)
        while not self._audio.ended:
            await self._audio.send_audio(silence)
            await asyncio.sleep(self._keepalive_s)

    async def close(self) -> None:
        self._stopped.set()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


_FRAME_S = FRAME_BYTES_8K / (2 * SAMPLE_RATE)


def _read_prompt(path: Path) -> bytes | None:
    """A prompt's audio, if it is an 8 kHz 16-bit mono WAV (what ``hotline prompts`` builds)."""
    try:
        with wave.open(str(path), "rb") as wav:
            if (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) != (SAMPLE_RATE, 2, 1):
                log.warning("%s is not 8 kHz 16-bit mono: Asterisk plays it, without barge-in by voice", path)
                return None
            return wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        log.warning("prompt %s cannot be read (%s): Asterisk plays it, without barge-in by voice", path, exc)
        return None


def _result(application: asyncio.Task[str]) -> str:
    if not application.done() or application.cancelled():
        return "-"
    return repr(application.exception() or application.result())
