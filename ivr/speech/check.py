"""``hotline speech check``: load the configured model and recognise a test phrase spoken by espeak-ng."""

from __future__ import annotations

import asyncio
import tempfile
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr.prompts.build import espeak_sox
from ivr.speech.recognizer import Heard, SpeechRecognition

_BATCH = 1600  # 100 ms of 8 kHz 16-bit audio


@dataclass(frozen=True)
class CheckResult:
    phrase: str
    heard: Heard
    load_seconds: float
    recognise_seconds: float
    audio_seconds: float

    @property
    def ok(self) -> bool:
        return self.heard.text == self.phrase

    def describe(self) -> str:
        return "\n".join(
            [
                f"model loaded in {self.load_seconds:.1f} s",
                f"said:       {self.phrase}  ({self.audio_seconds:.1f} s of espeak-ng audio)",
                f"heard:      {self.heard.text or '(nothing)'}  (confidence {self.heard.confidence:.2f})",
                f"recognised: in {self.recognise_seconds * 1000:.0f} ms",
                "result:     " + ("OK" if self.ok else "NOT RECOGNISED"),
            ]
        )


async def check_speech(
    model_path: str, phrase: str, *, voice: str, grammar: Sequence[str] = ()
) -> CheckResult:
    """Speak ``phrase`` with espeak-ng (``voice``), recognise it with the model and a grammar of ``phrase``
    and ``grammar``. Raises :class:`ivr.speech.recognizer.SpeechModelError` for a model that does not load,
    ``ValueError`` when no model is configured."""
    started = time.monotonic()
    recognition = await SpeechRecognition.load(model_path, streams=1, processes=1)
    if recognition is None:
        raise ValueError("no speech model configured (speech_model_path / HOTLINE_SPEECH_MODEL_PATH)")
    loaded = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="speech-check-") as scratch:
            wav_path = Path(scratch) / "phrase.wav"
            await asyncio.to_thread(espeak_sox, phrase, voice, wav_path)
            with wave.open(str(wav_path), "rb") as wav:
                audio = wav.readframes(wav.getnframes())
        audio += bytes(8000)  # half a second of silence after it, as on a call
        stream = recognition.stream([phrase, *grammar])
        assert stream is not None  # one stream, nobody else uses it
        begun = time.monotonic()
        with stream:
            for start in range(0, len(audio), _BATCH):
                await stream.accept(audio[start : start + _BATCH])
            heard = await stream.result()
        return CheckResult(
            phrase=phrase,
            heard=heard,
            load_seconds=loaded - started,
            recognise_seconds=time.monotonic() - begun,
            audio_seconds=len(audio) / 16000,
        )
    finally:
        await recognition.close()
