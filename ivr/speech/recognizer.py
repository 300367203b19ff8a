"""Speech recognition with Vosk in recogniser processes of its own: the FastAGI event loop never waits for it.

:class:`SpeechRecognition` starts ``speech_processes`` recogniser processes (:mod:`ivr.speech.worker`), each
loading the model once from ``speech_model_path`` (empty: speech is off, and the log says so once), and owns
a bounded pool of ``speech_streams`` recognition streams spread over them. Recognising is CPU-bound: in
threads of this process it held the GIL against the event loop and slowed other callers' FastAGI commands
(p99 ~55 ms with 8 streams); in processes of their own it costs the loop only a pipe write and read. A
question asked while every stream is busy gets no stream (:meth:`SpeechRecognition.stream` returns None) and
the caller gets the key menu at once.

A :class:`RecognitionStream` takes the caller's audio (8 kHz 16-bit mono) with a grammar of the phrases the
question expects, and tells when the caller has finished speaking. Every request to a process is bounded
(``request_timeout_s``); a process that crashes or stalls fails its streams with
:class:`RecognitionFailed` (their callers get the keys), is logged, and is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr.speech import worker as protocol

log = logging.getLogger(__name__)

SAMPLE_RATE = protocol.SAMPLE_RATE
END_SILENCE_MS = protocol.END_SILENCE_MS
# The project's root, so that the recogniser processes import this checkout's ivr.speech.worker.
_ROOT = str(Path(__file__).resolve().parent.parent.parent)
_RESTART_DELAYS_S = (1.0, 5.0, 15.0, 60.0)  # between attempts to replace a process whose model fails


class SpeechModelError(Exception):
    """The configured model cannot be loaded (a missing folder, not a Vosk model)."""


class RecognitionFailed(Exception):
    """The recogniser process of a stream crashed, stalled or refused it: the caller gets the keys."""


@dataclass(frozen=True)
class Heard:
    """What the recogniser made of an answer: its text ("" for nothing) and its confidence (0-1, the mean of
    the words' confidences; 0 for nothing)."""

    text: str
    confidence: float

    @property
    def silent(self) -> bool:
        return not self.text


def grammar_json(phrases: Sequence[str]) -> str:
    """The grammar Vosk takes: a JSON list of phrases, in their own letters (``ensure_ascii=False``)."""
    return json.dumps(sorted(set(phrases)), ensure_ascii=False)


def _heard(result_json: str) -> Heard:
    result = json.loads(result_json)
    text = " ".join(str(result.get("text", "")).split())
    words = [w for w in result.get("result", []) if isinstance(w, dict)]
    confidence = sum(float(w.get("conf", 0.0)) for w in words) / len(words) if words else 0.0
    return Heard(text, round(confidence, 3) if text else 0.0)


def _check_model_folder(path: Path) -> None:
    if not (path / "am").is_dir() and not (path / "conf").is_dir():
        raise SpeechModelError(f"{path} is not a Vosk model folder (no am/ or conf/ in it)")


class _Process:
    """One recogniser process and the replies it owes, matched by request id."""

    def __init__(self, process: asyncio.subprocess.Process, owner: SpeechRecognition) -> None:
        self.process = process
        self.owner = owner
        self.streams = 0  # open on this process
        self.alive = True
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    async def start(cls, owner: SpeechRecognition) -> _Process:
        """Start a process and wait (bounded) until its model is loaded; raises :class:`SpeechModelError`."""
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            p for p in (_ROOT, environment.get("PYTHONPATH", "")) if p
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ivr.speech.worker",
            str(owner.model_path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=environment,
        )
        assert process.stdout is not None
        try:
            async with asyncio.timeout(owner.load_timeout_s):
                _, status, payload = await _read_reply(process.stdout)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
            await _stop(process)
            what = "did not load it in time" if isinstance(exc, TimeoutError) else "ended while loading it"
            raise SpeechModelError(
                f"{owner.model_path}: the recogniser process {what} (exit {process.returncode})"
            ) from None
        if status != protocol.OK:
            await _stop(process)
            raise SpeechModelError(payload.decode(errors="replace"))
        started = cls(process, owner)
        started._reader = asyncio.create_task(started._read_replies(), name=f"speech process {process.pid}")
        return started

    def send(self, stream_id: int, operation: int, payload: bytes = b"", *, reply: bool = True) -> int:
        stdin = self.process.stdin
        if not self.alive or stdin is None or stdin.is_closing():
            raise RecognitionFailed(f"recogniser process {self.pid} has ended")
        request_id = next(self._ids) if reply else 0
        if reply:
            self._pending[request_id] = asyncio.get_running_loop().create_future()
        stdin.write(protocol.REQUEST.pack(request_id, stream_id, operation, len(payload)) + payload)
        return request_id

    async def reply(self, request_id: int) -> bytes:
        future = self._pending.get(request_id)
        if future is None:
            raise RecognitionFailed(f"recogniser process {self.pid} has ended")
        try:
            async with asyncio.timeout(self.owner.request_timeout_s):
                status, payload = await future
        except TimeoutError:
            log.warning(
                "speech recogniser process %d did not answer within %g s: stopping it",
                self.pid,
                self.owner.request_timeout_s,
            )
            self.kill()
            raise RecognitionFailed(f"recogniser process {self.pid} stalled") from None
        finally:
            self._pending.pop(request_id, None)
        if status != protocol.OK:
            raise RecognitionFailed(payload.decode(errors="replace"))
        return payload

    async def request(self, stream_id: int, operation: int, payload: bytes = b"") -> bytes:
        return await self.reply(self.send(stream_id, operation, payload))

    async def _read_replies(self) -> None:
        assert self.process.stdout is not None
        try:
            while True:
                request_id, status, payload = await _read_reply(self.process.stdout)
                future = self._pending.get(request_id)  # its reader forgets it
                if future is not None and not future.done():
                    future.set_result((status, payload))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the process ended
        except ValueError as exc:  # a reply that breaks the protocol
            log.error("speech recogniser process %d: %s", self.pid, exc)
            self.kill()
        self.alive = False
        self.owner._lost(self)
        for future in self._pending.values():
            if not future.done():
                future.set_result((protocol.ERROR, f"recogniser process {self.pid} has ended".encode()))
        self._pending.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.process.wait()
        self.owner._ended(self)

    def kill(self) -> None:
        self.alive = False
        self.owner._lost(self)
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def close(self) -> None:
        self.alive = False
        await _stop(self.process)
        if self._reader is not None:
            await self._reader


async def _read_reply(stdout: asyncio.StreamReader) -> tuple[int, int, bytes]:
    request_id, status, length = protocol.REPLY.unpack(await stdout.readexactly(protocol.REPLY.size))
    if length > protocol.MAX_PAYLOAD:
        raise ValueError(f"a reply of {length} bytes")
    return request_id, status, await stdout.readexactly(length)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """End a recogniser process: close its stdin (it then exits), kill it if it does not."""
    if process.stdin is not None and not process.stdin.is_closing():
        process.stdin.close()
    try:
        async with asyncio.timeout(5):
            await process.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


class RecognitionStream:
    """One answer being recognised, on one recogniser process. Raises :class:`RecognitionFailed` when that
    process has crashed or stalled."""

    def __init__(self, owner: SpeechRecognition, process: _Process, stream_id: int, grammar: str) -> None:
        self._owner = owner
        self._process = process
        self._id = stream_id
        self._released = False
        self._opened = process.send(stream_id, protocol.OPEN, grammar.encode())
        self.audio_seconds = 0.0
        self.spoke = False  # Vosk heard something (a partial result)

    @property
    def process_id(self) -> int:
        return self._process.pid

    async def _opened_first(self) -> None:
        if self._opened:
            opened, self._opened = self._opened, 0
            await self._process.reply(opened)

    async def accept(self, pcm: bytes) -> bool:
        """Feed audio; True once the caller has finished an utterance (Vosk's end-point after speech, or
        ``END_SILENCE_MS`` of a quiet line after it)."""
        self.audio_seconds += len(pcm) / (2 * SAMPLE_RATE)
        await self._opened_first()
        flags = (await self._process.request(self._id, protocol.ACCEPT, pcm))[:1]
        if not flags:
            raise RecognitionFailed(f"recogniser process {self._process.pid}: an empty answer")
        self.spoke = bool(flags[0] & protocol.SPOKE)
        return bool(flags[0] & protocol.ENDED)

    async def result(self) -> Heard:
        """What was heard so far (ends the utterance)."""
        await self._opened_first()
        payload = await self._process.request(self._id, protocol.RESULT)
        try:
            return _heard(payload.decode())
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecognitionFailed(f"recogniser process {self._process.pid}: {exc}") from None

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._process.streams -= 1
            if self._process.alive:
                with contextlib.suppress(RecognitionFailed):
                    self._process.send(self._id, protocol.CLOSE, reply=False)
            self._owner._release()

    def __enter__(self) -> RecognitionStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class SpeechRecognition:
    """The recogniser processes and the bounded pool of recognition streams over them."""

    def __init__(
        self,
        model_path: Path,
        *,
        streams: int,
        processes: int = 2,
        request_timeout_s: float = 5.0,
        load_timeout_s: float = 60.0,
    ) -> None:
        if streams < 1:
            raise ValueError("speech_streams must be at least 1")
        if processes < 1:
            raise ValueError("speech_processes must be at least 1")
        self.model_path = model_path
        self.capacity = streams
        self.process_count = min(processes, streams)
        self.request_timeout_s = request_timeout_s
        self.load_timeout_s = load_timeout_s
        self._processes: list[_Process] = []
        self._replacing: set[asyncio.Task[None]] = set()
        self._stream_ids = itertools.count(1)
        self._busy = 0
        self._closed = False
        self._all_up = asyncio.Event()  # every recogniser process is up (none is being replaced)
        self.refused = 0  # questions asked while every stream was busy
        self.replaced = 0  # recogniser processes that ended and were replaced

    @classmethod
    async def load(
        cls, model_path: str, streams: int, processes: int = 2, *, request_timeout_s: float = 5.0
    ) -> SpeechRecognition | None:
        """Start the recogniser processes, each loading the model from ``model_path``; None when it is
        empty (speech off). Raises :class:`SpeechModelError` when the model does not load."""
        if not model_path.strip():
            log.info("speech recognition is off (no speech_model_path): the menu is keys only")
            return None
        path = Path(model_path).expanduser()
        _check_model_folder(path)
        recognition = cls(path, streams=streams, processes=processes, request_timeout_s=request_timeout_s)
        started = time.monotonic()
        await recognition._start()
        log.info(
            "speech model %s loaded in %.1f s by %d recogniser processes, %d recognition streams",
            path,
            time.monotonic() - started,
            recognition.process_count,
            streams,
        )
        return recognition

    async def _start(self) -> None:
        results = await asyncio.gather(
            *(_Process.start(self) for _ in range(self.process_count)), return_exceptions=True
        )
        self._processes = [r for r in results if isinstance(r, _Process)]
        self._all_up.set()
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.close()
            if isinstance(failures[0], SpeechModelError):
                raise failures[0]
            raise SpeechModelError(f"{self.model_path}: {failures[0]!r}") from failures[0]

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def pids(self) -> list[int]:
        """The live recogniser processes (for figures and tests)."""
        return [p.pid for p in self._processes if p.alive]

    async def all_up(self) -> None:
        """Wait until every recogniser process is up (one that ended has been replaced)."""
        await self._all_up.wait()

    def stream(self, phrases: Sequence[str]) -> RecognitionStream | None:
        """A recognition stream for an answer among ``phrases``, or None when every stream is busy (or no
        recogniser process is up)."""
        live = [p for p in self._processes if p.alive]
        if self._busy >= self.capacity or not live:
            self.refused += 1
            return None
        process = min(live, key=lambda p: p.streams)
        try:
            stream = RecognitionStream(self, process, next(self._stream_ids), grammar_json(phrases))
        except RecognitionFailed:  # the process ended a moment ago; its replacement is on its way
            self.refused += 1
            return None
        self._busy += 1
        process.streams += 1
        return stream

    def _release(self) -> None:
        self._busy -= 1

    def _lost(self, process: _Process) -> None:
        """A recogniser process is going: no new streams on it, and the pool is not all up until it is
        replaced."""
        if not self._closed:
            self._all_up.clear()

    def _ended(self, process: _Process) -> None:
        """A recogniser process ended: replace it, unless the pool is closing."""
        if process in self._processes:
            self._processes.remove(process)
        if self._closed:
            return
        log.warning(
            "speech recogniser process %d ended (exit %s) with %d streams open, their callers get the keys; "
            "starting another",
            process.pid,
            process.process.returncode,
            process.streams,
        )
        task = asyncio.create_task(self._replace(), name="speech process replacement")
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _replace(self) -> None:
        for delay in itertools.chain(_RESTART_DELAYS_S, itertools.repeat(_RESTART_DELAYS_S[-1])):
            if self._closed:
                return
            try:
                started = await _Process.start(self)
            except SpeechModelError as exc:
                log.error("speech recogniser process not replaced: %s; trying again in %g s", exc, delay)
                await asyncio.sleep(delay)
                continue
            if self._closed:
                await started.close()
                return
            self._processes.append(started)
            if len(self._processes) >= self.process_count:
                self._all_up.set()
            self.replaced += 1
            log.info("speech recogniser process %d replaces the one that ended", started.pid)
            return

    async def close(self) -> None:
        self._closed = True
        for task in list(self._replacing):
            task.cancel()
        await asyncio.gather(*self._replacing, return_exceptions=True)
        processes, self._processes = self._processes, []
        await asyncio.gather(*(p.close() for p in processes))
