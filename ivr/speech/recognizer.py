"""Speech recognition with Vosk: one model per process, one recogniser per spoken question, off the loop.

:class:`SpeechRecognition` loads the model once from ``speech_model_path`` (empty: speech is off, and the
log says so once) and owns a bounded pool of ``speech_streams`` recognition streams, run on as many threads
of their own: recognising is CPU-bound and must not slow other callers' FastAGI commands. A question asked
while every stream is busy gets no stream (:meth:`SpeechRecognition.stream` returns None) and the caller
gets the key menu at once.

A :class:`RecognitionStream` takes the caller's audio (8 kHz 16-bit mono) with a grammar of the phrases the
question expects, and tells when the caller has finished speaking: Vosk's end-of-utterance after speech, or
a bound on the whole answer.
"""

from __future__ import annotations

import array
import asyncio
import json
import logging
import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
# End of speech: after the recogniser has heard something, this long below QUIET_RMS ends the answer, unless
# Vosk's own end-of-utterance comes first (it waits for longer silences).
END_SILENCE_MS = 400
QUIET_RMS = 300  # of 16-bit samples over 20 ms: a quiet telephone line is well below, speech well above
_FRAME_SAMPLES = SAMPLE_RATE // 50


class SpeechModelError(Exception):
    """The configured model cannot be loaded (a missing folder, not a Vosk model)."""


@dataclass(frozen=True)
class Heard:
    """What the recogniser made of an answer: its text ("" for nothing) and its confidence (0-1, the mean of
    the words' confidences; 0 for nothing)."""

    text: str
    confidence: float

    @property
    def silent(self) -> bool:
        return not self.text


def _import_vosk() -> Any:
    try:
        import vosk
    except ImportError as exc:  # pragma: no cover - vosk is a dependency
        raise SpeechModelError(f"the vosk package is not installed ({exc})") from exc
    vosk.SetLogLevel(-1)
    return vosk


def load_model(path: Path) -> Any:
    """Load a Vosk model folder (blocking: a second or more)."""
    if not (path / "am").is_dir() and not (path / "conf").is_dir():
        raise SpeechModelError(f"{path} is not a Vosk model folder (no am/ or conf/ in it)")
    vosk = _import_vosk()
    try:
        return vosk.Model(str(path))
    except Exception as exc:  # vosk raises a bare Exception on a broken model
        raise SpeechModelError(f"{path}: the Vosk model does not load ({exc})") from exc


def grammar_json(phrases: Sequence[str]) -> str:
    """The grammar Vosk takes: a JSON list of phrases, in their own letters (``ensure_ascii=False``)."""
    return json.dumps(sorted(set(phrases)), ensure_ascii=False)


def _heard(result_json: str) -> Heard:
    result = json.loads(result_json)
    text = " ".join(str(result.get("text", "")).split())
    words = [w for w in result.get("result", []) if isinstance(w, dict)]
    confidence = sum(float(w.get("conf", 0.0)) for w in words) / len(words) if words else 0.0
    return Heard(text, round(confidence, 3) if text else 0.0)


class RecognitionStream:
    """One answer being recognised; its Vosk work runs on the pool's threads, one piece at a time."""

    def __init__(self, owner: SpeechRecognition, recognizer: Any) -> None:
        self._owner = owner
        self._recognizer = recognizer
        self._released = False
        self.audio_seconds = 0.0
        self.spoke = False  # Vosk heard something (a partial result)
        self.quiet_ms = 0  # of line silence since the last loud frame

    async def accept(self, pcm: bytes) -> bool:
        """Feed audio; True once the caller has finished an utterance (Vosk's end-point after speech)."""
        self.audio_seconds += len(pcm) / (2 * SAMPLE_RATE)
        return bool(await self._owner._run(self._accept, pcm))

    def _accept(self, pcm: bytes) -> bool:
        ended = bool(self._recognizer.AcceptWaveform(pcm))
        if not ended and not self.spoke:
            self.spoke = bool(json.loads(self._recognizer.PartialResult()).get("partial"))
        samples = array.array("h", pcm[: len(pcm) - len(pcm) % 2])
        for start in range(0, len(samples), _FRAME_SAMPLES):
            frame = samples[start : start + _FRAME_SAMPLES]
            # Every 4th sample is enough to tell speech from a quiet line, and keeps this thread's hold
            # on the GIL (pure Python) short beside the event loop.
            sampled = frame[::4]
            loud = math.sqrt(sum(x * x for x in sampled) / max(1, len(sampled))) >= QUIET_RMS
            self.quiet_ms = 0 if loud else self.quiet_ms + 1000 * len(frame) // SAMPLE_RATE
        return self.spoke and (ended or self.quiet_ms >= END_SILENCE_MS)

    async def result(self) -> Heard:
        """What was heard so far (ends the utterance)."""
        return _heard(await self._owner._run(self._recognizer.FinalResult))

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._owner._release()

    def __enter__(self) -> RecognitionStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class SpeechRecognition:
    """The process's Vosk model and its bounded pool of recognition streams."""

    def __init__(self, model: Any, *, streams: int, model_path: Path) -> None:
        if streams < 1:
            raise ValueError("speech_streams must be at least 1")
        self.model = model
        self.model_path = model_path
        self.capacity = streams
        self._busy = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=streams, thread_name_prefix="speech")
        self.refused = 0  # questions asked while every stream was busy

    @classmethod
    async def load(cls, model_path: str, streams: int) -> SpeechRecognition | None:
        """Load the model from ``model_path`` (off the loop); None when it is empty (speech off)."""
        if not model_path.strip():
            log.info("speech recognition is off (no speech_model_path): the menu is keys only")
            return None
        path = Path(model_path).expanduser()
        started = time.monotonic()
        model = await asyncio.to_thread(load_model, path)
        log.info(
            "speech model %s loaded in %.1f s, %d recognition streams",
            path,
            time.monotonic() - started,
            streams,
        )
        return cls(model, streams=streams, model_path=path)

    @property
    def busy(self) -> int:
        return self._busy

    def stream(self, phrases: Sequence[str]) -> RecognitionStream | None:
        """A recognition stream for an answer among ``phrases``, or None when every stream is busy."""
        with self._lock:
            if self._busy >= self.capacity:
                self.refused += 1
                return None
            self._busy += 1
        made = False
        try:
            recognizer = _import_vosk().KaldiRecognizer(self.model, SAMPLE_RATE, grammar_json(phrases))
            recognizer.SetWords(True)
            made = True
        finally:
            if not made:
                self._release()
        return RecognitionStream(self, recognizer)

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1

    async def _run(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
