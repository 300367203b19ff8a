"""How long callers listen: the budgets of recordings/prompts.yaml, checked on the built WAVs.

The same checker as ``hotline prompts`` (:func:`ivr.prompts.budget.check_budgets`), on the hotline's own
prompts in every language, on a tiny catalogue a test makes too long, and through the command itself.
"""

from __future__ import annotations

import json
import re
import shutil
import wave
from pathlib import Path

import pytest

from hotline.settings import Settings
from ivr.menu import LanguageNode, MenuNode, load_menu
from ivr.prompts import PromptCatalog
from ivr.prompts.budget import (
    BudgetReport,
    Listening,
    check_budgets,
    listenings,
    measure_lengths,
)
from ivr.prompts.build import MANIFEST_NAME, build_prompts
from launcher.cli import main as hotline
from tests.data import CATALOG, MENU_FILE, PROMPTS_FILE, QUEUE_NAMES
from tests.ivr.test_prompts import needs_tools, write_wav

MENU = load_menu(MENU_FILE, CATALOG, QUEUE_NAMES)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hotline's prompts, built with espeak-ng and sox into a folder of this test run.

    Seeded with what `hotline prompts` last built (var/prompts), so only what changed since is synthesized:
    the manifest first, then the WAVs (a build writes them in the other order, so a WAV copied here is never
    older than what the manifest says of it).
    """
    out = tmp_path_factory.mktemp("prompts")
    seed = Settings().prompts_dir
    if (seed / MANIFEST_NAME).is_file():
        shutil.copyfile(seed / MANIFEST_NAME, out / MANIFEST_NAME)
        for wav in seed.glob("*/[a-z]*.wav"):
            (out / wav.parent.name).mkdir(exist_ok=True)
            shutil.copyfile(wav, out / wav.parent.name / wav.name)
    build_prompts(PROMPTS_FILE, out)
    return out


# --- The hotline's own prompts ------------------------------------------------------------------------------


@needs_tools
def test_every_prompt_and_menu_is_within_its_budget_in_every_language(built: Path) -> None:
    report = check_budgets(CATALOG, measure_lengths(built, CATALOG), listenings(MENU))

    assert report.ok, "\n".join(map(str, report.overruns)) + "\n" + report.table()
    # Every item is measured in every language (the language node's arrival only in its default one).
    heard = {row.item for row in report.rows}
    for node in MENU.nodes.values():
        if isinstance(node, MenuNode | LanguageNode):
            assert any(item.startswith(f"node {node.id!r}:") for item in heard), node.id
    for row in report.rows:
        if row.item != "node 'welcome': greeting and language choices":
            assert all(row.seconds[lang] is not None for lang in CATALOG.languages), row.item


@needs_tools
def test_each_language_is_spoken_at_a_natural_rate(built: Path) -> None:
    # espeak-ng's -s counts English words: Polish at -s 150 came out at 101 words a minute, which callers
    # heard as dragging. Measured on the topics' prose, each language is now at 160-175 words a minute.
    prose = [prompt_id for prompt_id in CATALOG.ids if prompt_id.startswith("info_")]
    lengths = measure_lengths(built, CATALOG)
    for lang, (slowest, fastest) in {"pl": (160, 185), "uk": (150, 185), "en": (150, 185)}.items():
        words = sum(len(re.findall(r"\w+", CATALOG.text(p, lang).replace(".gov.pl", ""))) for p in prose)
        seconds = sum(lengths[(p, lang)] for p in prose)
        assert slowest <= words / seconds * 60 <= fastest, (lang, words / seconds * 60)


def test_the_menu_says_what_callers_hear_on_arrival() -> None:
    heard = {(item.node, item.what): item for item in listenings(MENU)}

    welcome = heard[("welcome", "greeting and language choices")]
    assert welcome.parts == (("greeting", "pl"), ("language_choice", "pl"), ("language_choice", "uk"),
                             ("language_choice", "en"))  # fmt: skip
    assert welcome.languages == ("pl",) and welcome.budget == "menu"
    assert heard[("welcome", "greeting")].parts == (("greeting", None),)
    assert heard[("main", "menu")].parts == (("main_menu", None), ("hint_consultant", None))
    jobs = heard[("jobs", "information")]
    assert jobs.budget == "information"
    assert [prompt_id for prompt_id, _ in jobs.parts][:2] == ["info_jobs", "hint_consultant_topic"]


# --- The checker, on a tiny catalogue -----------------------------------------------------------------------

BUDGETS = {
    "prompt_s": 3,
    "greeting_s": 2,
    "menu_s": 4,
    "information_s": 6,
    "consultant_within_s": 2.5,
    "consultant_prompts": ["press_0"],
}
TEXTS = {
    "greeting": "Dzień dobry, tu Zielona Linia.",
    "choices": "Oferty pracy – naciśnij 1. Konsultant – 0.",
    "info": "Oferty pracy są na stronie urzędu.",
    "press_0": "Konsultant – naciśnij 0.",
    "details": "Doradca pomoże ci.",
}
HEARD = (
    Listening("welcome", "greeting", "greeting", (("greeting", None),)),
    Listening("main", "menu", "menu", (("greeting", None), ("choices", None))),
    Listening("jobs", "information", "information", (("info", None), ("press_0", None), ("details", None))),
)


def tiny_source(folder: Path, texts: dict[str, str]) -> Path:
    """A prompt file of two languages with the budgets above (JSON is YAML too)."""
    data = {
        "languages": ["pl", "en"],
        "budgets": BUDGETS,
        "prompts": {prompt_id: {"pl": text, "en": text} for prompt_id, text in texts.items()},
    }
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "prompts.yaml"
    source.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return source


def words_synthesizer(text: str, language: str, out: Path) -> None:
    """A stand-in voice: 0.25 s a word, about what the real one takes."""
    write_wav(out, seconds=0.25 * len(text.split()))


def check_tiny(tmp_path: Path, texts: dict[str, str]) -> BudgetReport:
    """Build a tiny catalogue with the stand-in voice and check it as `hotline prompts` does."""
    source = tiny_source(tmp_path / "src", texts)
    build_prompts(source, tmp_path / "out", synthesize=words_synthesizer)
    catalog = PromptCatalog.load(source)
    return check_budgets(catalog, measure_lengths(tmp_path / "out", catalog), HEARD)


def test_a_tiny_catalogue_within_its_budgets_passes(tmp_path: Path) -> None:
    report = check_tiny(tmp_path, TEXTS)

    assert report.ok, report.overruns
    row = next(row for row in report.rows if row.item == "node 'jobs': press 0 starts at")
    assert row.seconds == {"pl": pytest.approx(1.5), "en": pytest.approx(1.5)}


def test_a_longer_text_is_over_budget_and_named(tmp_path: Path) -> None:
    # 10 words instead of 5: 2.5 s.
    longer = "Dzień dobry, tu Zielona Linia, numer dziewiętnaście pięćset dwadzieścia cztery."

    report = check_tiny(tmp_path, {**TEXTS, "greeting": longer})

    assert not report.ok
    assert {(o.language, o.item, o.kind) for o in report.overruns} == {
        (lang, item, kind)
        for lang in ("pl", "en")
        for item, kind in [
            ("node 'welcome': greeting", "greeting"),  # 2.5 s > 2
            ("node 'main': menu", "menu"),  # 2.5 + 2 s > 4 (the prompt alone is within 3 s)
        ]
    }
    assert "pl: node 'welcome': greeting: 2.5 s, over the budget of 2 s" in map(str, report.overruns)
    assert re.search(r"node 'main': menu +4 +4\.5! +4\.5!", report.table())


def test_a_consultant_prompt_said_too_late_is_over_budget(tmp_path: Path) -> None:
    in_time = "Oferty pracy z całej Polski są na stronie urzędu pracy."  # 10 words: press 0 starts at 2.5 s
    assert check_tiny(tmp_path, {**TEXTS, "info": in_time}).ok

    report = check_tiny(tmp_path, {**TEXTS, "info": in_time + " Codziennie."})

    assert [(o.language, o.item, o.kind, o.seconds) for o in report.overruns] == [
        ("pl", "node 'jobs': press 0 starts at", "consultant", pytest.approx(2.75)),
        ("en", "node 'jobs': press 0 starts at", "consultant", pytest.approx(2.75)),
    ]
    assert str(report.overruns[0]) == "pl: node 'jobs': press 0 starts at 2.8 s, later than 2.5 s"


def test_information_without_a_consultant_prompt_is_refused(tmp_path: Path) -> None:
    catalog = PromptCatalog.load(tiny_source(tmp_path, TEXTS))
    lengths = {(prompt_id, lang): 0.5 for prompt_id in TEXTS for lang in ("pl", "en")}
    heard = (Listening("jobs", "information", "information", (("info", None), ("details", None))),)

    report = check_budgets(catalog, lengths, heard)

    assert [str(o) for o in report.overruns] == [
        f"{lang}: node 'jobs': press 0 starts at: never (no prompt of budgets.consultant_prompts)"
        for lang in ("pl", "en")
    ]


def test_without_budgets_the_report_only_has_lengths(tmp_path: Path) -> None:
    catalog = PromptCatalog.from_data({"languages": ["pl"], "prompts": {"greeting": {"pl": "Dzień dobry."}}})
    report = check_budgets(catalog, {("greeting", "pl"): 20.0}, HEARD[:1])

    assert report.ok
    assert "20.0" in report.table()


def test_a_wav_that_is_not_built_is_an_error(tmp_path: Path) -> None:
    from ivr.prompts import PromptError

    with pytest.raises(PromptError, match="build the prompts first"):
        measure_lengths(tmp_path, PromptCatalog.load(tiny_source(tmp_path, TEXTS)))


def test_lengths_are_frames_over_rate(tmp_path: Path) -> None:
    catalog = PromptCatalog.from_data({"languages": ["pl"], "prompts": {"greeting": {"pl": "Dzień dobry."}}})
    write_wav(tmp_path / "pl" / "greeting.wav", rate=8000, seconds=1.5)
    with wave.open(str(tmp_path / "pl" / "greeting.wav")) as wav:
        assert wav.getnframes() == 12000

    assert measure_lengths(tmp_path, catalog) == {("greeting", "pl"): 1.5}


# --- `hotline prompts` --------------------------------------------------------------------------------------


def run_hotline_prompts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, built: Path, texts: str) -> int:
    source = tmp_path / "prompts.yaml"
    source.write_text(texts, encoding="utf-8")
    out = tmp_path / "prompts"
    shutil.copytree(built, out)
    monkeypatch.setenv("HOTLINE_CONFIG", str(tmp_path / "no-such.toml"))
    monkeypatch.setenv("HOTLINE_PROMPTS_FILE", str(source))
    monkeypatch.setenv("HOTLINE_PROMPTS_DIR", str(out))
    return hotline(["prompts"])


@needs_tools
def test_hotline_prompts_reports_every_length(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_hotline_prompts(monkeypatch, tmp_path, built, PROMPTS_FILE.read_text(encoding="utf-8")) == 0

    printed = capsys.readouterr().out
    assert re.search(r"budget +pl +uk +en", printed)
    assert re.search(r"node 'main': menu +15 +\d+\.\d", printed)
    assert re.search(r"node 'jobs': press 0 starts at +10 +\d+\.\d", printed)
    assert all(f"prompt {prompt_id!r}" in printed for prompt_id in CATALOG.ids)


@needs_tools
def test_hotline_prompts_fails_on_a_prompt_over_budget(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = PROMPTS_FILE.read_text(encoding="utf-8")
    goodbye = "Dziękujemy za telefon do Zielonej Linii. Do usłyszenia."
    assert f"pl: {goodbye}" in texts
    texts = texts.replace(f"pl: {goodbye}", "pl: " + " ".join([goodbye] * 8))

    assert run_hotline_prompts(monkeypatch, tmp_path, built, texts) == 1

    captured = capsys.readouterr()
    assert re.search(r"prompt 'goodbye' +15 +\d\d\.\d!", captured.out)
    assert re.search(r"over budget: pl: prompt 'goodbye': \d\d\.\d s, over the budget of 15 s", captured.err)
    assert "uk: prompt 'goodbye'" not in captured.err
