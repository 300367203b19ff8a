"""Hearing a caller's spoken answer on a live call: AudioSocket from Asterisk to a recognition stream.

:meth:`SpeechListener.listen` runs ``AudioSocket(<call id>,<our address>)`` on the call's AGI channel (the
command blocks that AGI session while the stream lasts), takes the stream the server hands over, feeds the
caller's audio to a recogniser with the question's grammar, and ends the stream with AudioSocket's hang-up
frame, which makes the application return: the AGI command ends and the IVR goes on. A key pressed meanwhile
(AudioSocket forwards DTMF) answers at once. Every wait is bounded; anything that goes wrong is an outcome
(``busy``, ``failed``), never an error for the caller, who then gets the keys. No audio is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ivr.fastagi import AgiProtocolError
from ivr.speech.audiosocket import FRAME_BYTES_8K, AudioSocketProtocolError, Dtmf
from ivr.speech.recognizer import Heard, RecognitionFailed, RecognitionStream, SpeechRecognition
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
        self, server: AudioSocketServer, recognition: SpeechRecognition, limits: ListenLimits | None = None
    ) -> None:
        self.server = server
        self.recognition = recognition
        self.limits = limits or ListenLimits()

    def reserve(self, phrases: Sequence[str]) -> RecognitionStream | None:
        """A recognition stream for the question about to be asked, or None when every one is busy (the
        caller then gets the keys at once). Release it (``with``) when the question is over."""
        stream = self.recognition.stream(phrases)
        if stream is None:
            log.info("every speech stream is busy (%d): the caller gets the keys", self.recognition.capacity)
        return stream

    async def listen(self, channel: SpeechChannel, stream: RecognitionStream) -> Listened:
        """Hear one answer (or a key) on ``channel`` with a stream from :meth:`reserve`; raises only what the
        channel raises (``CallerHungUp``), or ``AgiProtocolError`` when Asterisk never ends the
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
                    return await self._hear(audio, stream)
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

    async def _hear(self, audio: AudioStream, stream: RecognitionStream) -> Listened:
        limits = self.limits
        loop = asyncio.get_running_loop()
        started = loop.time()
        buffered = bytearray()
        speech_ended: float | None = None
        keepalive = asyncio.create_task(
            self._keep_alive(audio), name=f"audiosocket keepalive {audio.call_id}"
        )
        try:
            while True:
                now = loop.time()
                deadline = started + (limits.answer_s if stream.spoke else limits.no_speech_s)
                if now >= deadline:
                    break
                try:
                    message = await audio.receive(deadline - now)
                except AudioSocketTimeout:
                    break  # no audio from the caller's side at all: heard as silence
                if message is None:
                    break  # Asterisk ended the stream: the caller has most likely hung up
                if isinstance(message, Dtmf):
                    return Listened("key", key=message.digit)
                buffered += message.pcm
                if len(buffered) >= limits.batch_bytes:
                    fed = time.monotonic()
                    ended = await stream.accept(bytes(buffered))
                    buffered.clear()
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
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
        result_ms = (time.monotonic() - finished) * 1000
        return Listened("heard" if heard.text else "silence", heard=heard, result_ms=result_ms)

    async def _keep_alive(self, audio: AudioStream) -> None:
        silence = bytes(FRAME_BYTES_8K)
        while not audio.ended:
            await audio.send_audio(silence)
            await asyncio.sleep(self.limits.keepalive_s)

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


def _result(application: asyncio.Task[str]) -> str:
    if not application.done() or application.cancelled():
        return "-"
    return repr(application.exception() or application.result())
