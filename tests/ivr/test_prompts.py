"""Prompt texts and their WAVs: catalog checks, incremental builds, studio recordings, real espeak-ng."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import struct
import wave
from pathlib import Path

import pytest

from ivr.prompts import PromptCatalog, PromptError, dialplan_prompt_file, prompt_file
from ivr.prompts.build import Manifest, build_prompts, is_telephone_wav, main
from tests.data import PROMPTS_FILE as DEFAULT_SOURCE

HAVE_TOOLS = shutil.which("espeak-ng") is not None and shutil.which("sox") is not None
needs_tools = pytest.mark.skipif(not HAVE_TOOLS, reason="needs the Debian packages espeak-ng and sox")

REQUIRED = {
    "greeting", "language_choice", "main_menu", "hint_consultant", "hint_navigation", "invalid_key",
    "no_input", "transfer", "closed", "callback_offer", "callback_enter_number", "callback_readback",
    "callback_confirm",
    "callback_consent", "callback_registered", "returning_offer", "returning_keys", "goodbye",
    "info_jobs", "info_training", "info_registration", "info_benefits", "info_eures", "info_returning",
    "info_employers", "info_youth",
}  # fmt: skip


def write_wav(path: Path, *, rate: int = 8000, channels: int = 1, seconds: float = 0.2) -> None:
    """A short 440 Hz tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate))) * channels
        for n in range(int(rate * seconds))
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)


class CountingSynthesizer:
    """Stands in for espeak-ng + sox: writes a valid telephone WAV and remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, text: str, language: str, out: Path) -> None:
        self.calls.append((text, language))
        write_wav(out, seconds=0.05 + len(text) / 1000)


def write_source(folder: Path, prompts: dict[str, dict[str, str]]) -> Path:
    lines = ["languages: [pl, uk, en]", "prompts:"]
    for prompt_id, texts in prompts.items():
        lines.append(f"  {prompt_id}:")
        lines.extend(f"    {lang}: {json.dumps(text, ensure_ascii=False)}" for lang, text in texts.items())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prompts.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SMALL = {
    "greeting": {"pl": "Dzień dobry.", "uk": "Добрий день.", "en": "Hello."},
    "goodbye": {"pl": "Do usłyszenia.", "uk": "До побачення.", "en": "Goodbye."},
}


# --- The catalog --------------------------------------------------------------------------------------------


def test_the_hotline_catalog_has_every_prompt_in_polish_ukrainian_and_english() -> None:
    catalog = PromptCatalog.load(DEFAULT_SOURCE)

    assert catalog.languages == ("pl", "uk", "en")
    assert REQUIRED <= set(catalog.ids)
    for prompt_id in catalog.ids:
        for lang in catalog.languages:
            assert catalog.text(prompt_id, lang).strip()
    assert "nagrywane" in catalog.text("greeting", "pl")
    assert "записуються" in catalog.text("greeting", "uk")
    assert "recorded" in catalog.text("greeting", "en")
    # Each language is offered in its own language, with its own key.
    assert "1" in catalog.text("language_choice", "pl") and "2" in catalog.text("language_choice", "uk")
    assert "3" in catalog.text("language_choice", "en")


def test_texts_are_folded_to_single_spaces() -> None:
    catalog = PromptCatalog.load(DEFAULT_SOURCE)
    for prompt_id in catalog.ids:
        for lang in catalog.languages:
            text = catalog.text(prompt_id, lang)
            assert "\n" not in text and "  " not in text


def test_unknown_prompts_and_languages_are_key_errors() -> None:
    catalog = PromptCatalog.load(DEFAULT_SOURCE)
    assert "greeting" in catalog and "greting" not in catalog
    with pytest.raises(KeyError, match="unknown prompt 'greting'"):
        catalog.text("greting", "pl")
    with pytest.raises(KeyError, match="no 'de' text"):
        catalog.text("greeting", "de")


ONE = {"languages": ["pl"], "prompts": {"hint": {"pl": "Konsultant – naciśnij 0."}}}
BUDGETS = {
    "prompt_s": 15, "greeting_s": 12, "menu_s": 15, "information_s": 25, "consultant_within_s": 10,
    "consultant_prompts": ["hint"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"languages": ["pl", "uk", "en"], "prompts": {"greeting": {"pl": "Dzień dobry.", "en": "Hello."}}},
         "prompt 'greeting' has no 'uk' text"),
        ({"languages": ["pl"], "prompts": {"greeting": {"pl": "   "}}}, "prompt 'greeting' has no 'pl' text"),
        ({"languages": ["pl"], "prompts": {"greeting": {"pl": "Dzień dobry.", "de": "Hallo."}}},
         "unknown language(s) ['de']"),
        ({"languages": ["pl"], "prompts": {"Greeting!": {"pl": "x"}}}, "prompt id 'Greeting!'"),
        ({"languages": ["pl"], "prompts": {"greeting": "Dzień dobry."}}, "must map each language"),
        ({"languages": ["pl"], "prompts": {"a": {"pl": "x", "review": " "}}}, "'review' must say whose"),
        ({"languages": ["pl"], "prompts": {"a": {"pl": "x", "review": True}}}, "'review' must say whose"),
        ({"languages": [], "prompts": {}}, "'languages' must be a non-empty list"),
        ({"languages": ["pl", "pl"], "prompts": {"a": {"pl": "x"}}}, "distinct"),
        ({"languages": ["pl"], "prompts": {}}, "'prompts' must be a non-empty mapping"),
        ({"prompts": {}}, "exactly 'languages' and 'prompts'"),
        ({**ONE, "limits": {}}, "exactly 'languages' and 'prompts'"),
        ({**ONE, "budgets": {**BUDGETS, "menu_s": 0}}, "budgets.menu_s must be a number of seconds above 0"),
        ({**ONE, "budgets": {**BUDGETS, "menu_s": "15 s"}}, "budgets.menu_s must be a number of seconds"),
        ({**ONE, "budgets": {**BUDGETS, "menu_s": True}}, "budgets.menu_s must be a number of seconds"),
        ({**ONE, "budgets": {**BUDGETS, "extra_s": 1}}, "'budgets' must give exactly prompt_s, greeting_s"),
        ({**ONE, "budgets": {k: v for k, v in BUDGETS.items() if k != "prompt_s"}}, "'budgets' must give"),
        ({**ONE, "budgets": {**BUDGETS, "consultant_prompts": []}}, "consultant_prompts must list distinct"),
        ({**ONE, "budgets": {**BUDGETS, "consultant_prompts": ["hint", "hint"]}}, "must list distinct"),
        ({**ONE, "budgets": {**BUDGETS, "consultant_prompts": ["hnit"]}}, "names unknown prompt(s) ['hnit']"),
    ],
)  # fmt: skip
def test_an_invalid_catalog_is_refused(data: object, message: str) -> None:
    with pytest.raises(PromptError) as caught:
        PromptCatalog.from_data(data)
    assert message in str(caught.value)


def test_the_hotline_catalog_has_its_budgets() -> None:
    budgets = PromptCatalog.load(DEFAULT_SOURCE).budgets

    assert budgets is not None
    assert (budgets.greeting_s, budgets.menu_s, budgets.information_s, budgets.consultant_within_s) == (
        12, 15, 25, 10,
    )  # fmt: skip
    assert budgets.prompt_s == 15
    assert "hint_consultant_topic" in budgets.consultant_prompts


def test_budgets_are_optional_and_read_as_seconds() -> None:
    assert PromptCatalog.from_data(ONE).budgets is None
    budgets = PromptCatalog.from_data({**ONE, "budgets": {**BUDGETS, "menu_s": 14.5}}).budgets
    assert budgets is not None and budgets.menu_s == 14.5 and budgets.consultant_prompts == ("hint",)


def test_a_prompt_defined_twice_is_refused(tmp_path: Path) -> None:
    path = write_source(tmp_path, SMALL)
    path.write_text(path.read_text(encoding="utf-8") + "  greeting:\n    pl: a\n    uk: b\n    en: c\n")
    with pytest.raises(PromptError, match="key 'greeting' appears twice in prompts"):
        PromptCatalog.load(path)


# --- Building, with a stand-in synthesizer ------------------------------------------------------------------


def test_build_writes_one_wav_per_prompt_and_language_and_a_manifest(tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", SMALL)
    out = tmp_path / "out"
    synth = CountingSynthesizer()

    manifest = build_prompts(source, out, synthesize=synth, jobs=2)

    assert sorted(synth.calls) == sorted((text, lang) for p in SMALL.values() for lang, text in p.items())
    assert len(manifest) == 6
    for prompt_id in SMALL:
        for lang in ("pl", "uk", "en"):
            wav = out / lang / f"{prompt_id}.wav"
            assert is_telephone_wav(wav)
            entry = manifest.get(prompt_id, lang)
            assert entry is not None
            assert entry.file == f"{lang}/{prompt_id}.wav"
            assert entry.source == "synthesized"
            assert entry.text == SMALL[prompt_id][lang]
            assert entry.sha256 == hashlib.sha256(SMALL[prompt_id][lang].encode()).hexdigest()
    stored = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert stored["prompts"][0] == {
        "id": "greeting", "lang": "pl", "text": "Dzień dobry.", "file": "pl/greeting.wav",
        "source": "synthesized", "sha256": hashlib.sha256("Dzień dobry.".encode()).hexdigest(),
    }  # fmt: skip
    assert Manifest.from_json((out / "manifest.json").read_text(encoding="utf-8")) == manifest
    assert not list(out.rglob("*.tmp*"))


def test_an_unchanged_build_synthesizes_nothing(tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", SMALL)
    out = tmp_path / "out"
    build_prompts(source, out, synthesize=CountingSynthesizer())
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}

    again = CountingSynthesizer()
    build_prompts(source, out, synthesize=again)

    assert again.calls == []
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")} == before


def test_only_changed_texts_are_rebuilt(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_prompts(write_source(tmp_path / "src", SMALL), out, synthesize=CountingSynthesizer())
    changed = {**SMALL, "goodbye": {**SMALL["goodbye"], "en": "Thank you, goodbye."}}

    synth = CountingSynthesizer()
    manifest = build_prompts(write_source(tmp_path / "src", changed), out, synthesize=synth)

    assert synth.calls == [("Thank you, goodbye.", "en")]
    entry = manifest.get("goodbye", "en")
    assert entry is not None and entry.text == "Thank you, goodbye."


def test_a_missing_wav_is_rebuilt_even_if_the_manifest_lists_it(tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", SMALL)
    out = tmp_path / "out"
    build_prompts(source, out, synthesize=CountingSynthesizer())
    (out / "uk" / "greeting.wav").unlink()

    synth = CountingSynthesizer()
    build_prompts(source, out, synthesize=synth)

    assert synth.calls == [("Добрий день.", "uk")]


def test_a_new_synthesizer_rebuilds_everything(tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", SMALL)
    out = tmp_path / "out"
    build_prompts(source, out, synthesize=CountingSynthesizer())

    synth = CountingSynthesizer()
    build_prompts(source, out, synthesize=synth, synthesizer_id="espeak-ng -s 140 | sox")

    assert len(synth.calls) == 6


def test_prompts_removed_from_the_text_file_lose_their_wavs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_prompts(write_source(tmp_path / "src", SMALL), out, synthesize=CountingSynthesizer())

    manifest = build_prompts(
        write_source(tmp_path / "src", {"greeting": SMALL["greeting"]}), out, synthesize=CountingSynthesizer()
    )

    assert len(manifest) == 3
    assert not (out / "pl" / "goodbye.wav").exists()
    assert (out / "pl" / "greeting.wav").exists()


def test_a_studio_recording_takes_precedence(tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", SMALL)
    recording = tmp_path / "src" / "pl" / "greeting.wav"
    write_wav(recording, seconds=0.5)
    out = tmp_path / "out"
    synth = CountingSynthesizer()

    manifest = build_prompts(source, out, synthesize=synth)

    assert ("Dzień dobry.", "pl") not in synth.calls and len(synth.calls) == 5
    entry = manifest.get("greeting", "pl")
    assert entry is not None and entry.source == "recorded"
    assert entry.text == "Dzień dobry."  # still the text, for whoever reads the manifest
    assert (out / "pl" / "greeting.wav").read_bytes() == recording.read_bytes()

    # Re-recorded: copied again; removed: synthesized again.
    write_wav(recording, seconds=0.7)
    build_prompts(source, out, synthesize=CountingSynthesizer())
    assert (out / "pl" / "greeting.wav").read_bytes() == recording.read_bytes()
    recording.unlink()
    synth = CountingSynthesizer()
    manifest = build_prompts(source, out, synthesize=synth)
    assert synth.calls == [("Dzień dobry.", "pl")]
    entry = manifest.get("greeting", "pl")
    assert entry is not None and entry.source == "synthesized"


@needs_tools
def test_a_studio_recording_in_another_format_is_converted(tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", SMALL)
    write_wav(tmp_path / "src" / "en" / "goodbye.wav", rate=44100, channels=2)
    out = tmp_path / "out"

    build_prompts(source, out, synthesize=CountingSynthesizer())

    assert is_telephone_wav(out / "en" / "goodbye.wav")
    with wave.open(str(out / "en" / "goodbye.wav"), "rb") as wav:
        assert abs(wav.getnframes() / wav.getframerate() - 0.2) < 0.01


def test_a_synthesizer_that_writes_the_wrong_format_fails_the_build(tmp_path: Path) -> None:
    def wideband(text: str, language: str, out: Path) -> None:
        write_wav(out, rate=16000)

    with pytest.raises(PromptError, match="not an 8 kHz 16-bit mono WAV"):
        build_prompts(write_source(tmp_path / "src", SMALL), tmp_path / "out", synthesize=wideband, jobs=1)


# --- The real thing: espeak-ng and sox ----------------------------------------------------------------------


@needs_tools
def test_espeak_and_sox_make_reproducible_8khz_mono_wavs(tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", SMALL)

    first = build_prompts(source, tmp_path / "a")
    second = build_prompts(source, tmp_path / "b")

    assert first == second
    for entry in first:
        a, b = tmp_path / "a" / entry.file, tmp_path / "b" / entry.file
        with wave.open(str(a), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
            assert wav.getnframes() > 8000 * 0.3  # real speech, not an empty file
        assert a.read_bytes() == b.read_bytes(), entry.file


@needs_tools
def test_the_command_line_builds_into_the_given_folder(tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", {"goodbye": SMALL["goodbye"]})
    out = tmp_path / "prompts"

    assert main(["--source", str(source), "--out", str(out)]) == 0

    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav")) == [
        "en/goodbye.wav", "pl/goodbye.wav", "uk/goodbye.wav",
    ]  # fmt: skip
    assert (out / "manifest.json").is_file()


def test_the_command_line_reports_a_bad_source(tmp_path: Path) -> None:
    bad = tmp_path / "prompts.yaml"
    bad.write_text("languages: [pl]\nprompts: {greeting: {pl: ''}}\n", encoding="utf-8")
    assert main(["--source", str(bad), "--out", str(tmp_path / "out")]) == 1


def test_a_prompt_may_await_a_review() -> None:
    catalog = PromptCatalog.from_data(
        {"languages": ["pl"], "prompts": {"a": {"pl": "x", "review": "the  content owner"}, "b": {"pl": "y"}}}
    )
    assert dict(catalog.reviews) == {"a": "the content owner"}
    assert catalog.text("a", "pl") == "x"  # the note is no text


def test_the_advisor_answers_await_the_content_owners_review() -> None:
    reviews = PromptCatalog.load(DEFAULT_SOURCE).reviews
    advisors = {"advisor_documents", "advisor_benefit", "advisor_hours", "advisor_return"}
    assert set(reviews) == advisors
    assert all("content owner" in note for note in reviews.values())


def test_a_prompts_file_is_under_the_sounds_dir_by_language() -> None:
    assert prompt_file("/var/lib/hotline/sounds/", "uk", "greeting") == "/var/lib/hotline/sounds/uk/greeting"
    assert prompt_file("/sounds", "pl", "goodbye") == "/sounds/pl/goodbye"


def test_a_plain_prompts_file_may_go_to_the_dialplan() -> None:
    path = dialplan_prompt_file("/sounds/", "pl", "callback_whisper_jobs")
    assert path == "/sounds/pl/callback_whisper_jobs"


@pytest.mark.parametrize(
    "sounds_dir", ["/my sounds", "/sounds&/etc/x", "/sounds,1", "/${EVIL}", "/" + "s" * 200]
)
def test_a_prompts_file_the_dialplan_could_misread_is_refused(sounds_dir: str) -> None:
    assert dialplan_prompt_file(sounds_dir, "pl", "callback_whisper_jobs") is None
