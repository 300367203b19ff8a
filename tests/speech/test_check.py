"""``hotline speech check`` with the packaged Korean model: a real phrase, really recognised."""

from __future__ import annotations

import pytest

from launcher.cli import main
from tests.speech.voices import CONSULTANT, HELLO, WORK_ABROAD, model_path


def test_speech_check_recognises_the_phrase(capsys: pytest.CaptureFixture[str]) -> None:
    model = str(model_path())
    argv = ["speech", "check", "--model", model, "--voice", "ko", "--phrase", WORK_ABROAD]
    assert main([*argv, "--grammar", CONSULTANT, HELLO]) == 0
    out = capsys.readouterr().out
    assert f"heard:      {WORK_ABROAD}" in out
    assert "result:     OK" in out


def test_speech_check_without_a_model_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_SPEECH_MODEL_PATH", "")
    assert main(["speech", "check"]) == 1
    assert "no speech model configured" in capsys.readouterr().err
