"""Every text the code and the templates ask for exists; values look right to a Polish reader."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import agent_console
from agent_console.formatting import Formatter
from agent_console.texts import TEXTS_DIR, load_texts
from hotline.db import Call
from hotline.phone import NotAPhoneNumber
from hotline.phone import parse_typed as normalise_phone_number

PACKAGE = Path(agent_console.__file__).parent
# t("key"), texts("key"), t.label("section", …) and exc.text_key-style "errors.xyz" literals.
TEXT_CALL = re.compile(r"""\b(?:t|texts|\w+\[keys\.TEXTS\])\(\s*["']([a-z_]+\.[a-z_0-9.]+)["']""")


def test_every_text_used_exists() -> None:
    texts = load_texts()
    sources = list(PACKAGE.rglob("*.py")) + list((PACKAGE / "templates").glob("*.html"))
    used = {key for path in sources for key in TEXT_CALL.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 50
    # Keys handed around as plain strings ("errors.form_missing", "home.search_garbage"…).
    sections = {key.split(".")[0] for key in texts.keys()}
    literal = re.compile(rf"""["']((?:{"|".join(sections)})\.(?!html\b)[a-z_0-9]+)["']""")
    python = [path for path in sources if path.suffix == ".py"]
    used |= {key for path in python for key in literal.findall(path.read_text(encoding="utf-8"))}
    missing = sorted(key for key in used if key not in texts)
    assert missing == []


def test_every_language_file_has_the_same_keys() -> None:
    reference = load_texts("pl").keys()
    for path in TEXTS_DIR.glob("*.yaml"):
        assert load_texts(path.stem).keys() == reference, path.name


@pytest.fixture
def fmt() -> Formatter:
    return Formatter(texts=load_texts(), timezone=ZoneInfo("Europe/Warsaw"))


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("+48600100200", "600 100 200"),
        ("+48221234567", "22 123 45 67"),
        ("+4930123456", "+49 30 123456"),
        ("+380441234567", "+380 44 123 4567"),
        (None, "numer nieznany"),
        ("garbage", "garbage"),
    ],
)
def test_phone_numbers_as_people_write_them(fmt: Formatter, number: str | None, shown: str) -> None:
    assert fmt.phone(number) == shown


def test_a_withheld_caller(fmt: Formatter) -> None:
    call = Call(caller_number=None, caller_withheld=True, started_at=datetime.now(UTC))
    assert fmt.caller(call) == "numer zastrzeżony"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 s"),
        (42.4, "42 s"),
        (59.6, "1 min 00 s"),
        (185, "3 min 05 s"),
        (3725, "1 godz. 02 min"),
        (None, "—"),
    ],
)
def test_durations(fmt: Formatter, seconds: float | None, shown: str) -> None:
    assert fmt.seconds(seconds) == shown


def test_times_are_shown_in_warsaw(fmt: Formatter) -> None:
    assert fmt.date_time(datetime(2026, 1, 15, 9, 30, tzinfo=UTC)) == "15.01.2026 10:30:00"
    assert fmt.date_time(datetime(2026, 7, 15, 9, 30, tzinfo=UTC)) == "15.07.2026 11:30:00"


def test_outcomes_in_words(fmt: Formatter) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert fmt.outcome(Call(outcome="queued", started_at=start)) == "przekazane do konsultanta"
    assert fmt.outcome(Call(outcome=None, started_at=start, ended_at=None)) == "w toku"
    assert fmt.outcome(Call(outcome=None, started_at=start, ended_at=start + timedelta(1))) == "brak danych"
    assert fmt.outcome(Call(outcome="something_new", started_at=start)) == "something_new"
    assert fmt.language("uk") == "ukraiński"
    assert fmt.topic(None) == "—"


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("600 100 200", "+48600100200"),
        ("600-100-200", "+48600100200"),
        ("+48 600 100 200", "+48600100200"),
        ("0048600100200", "+48600100200"),
        ("(22) 123 45 67", "+48221234567"),
        ("+49 30 123456", "+4930123456"),
        ("600\u00a0100\u00a0200", "+48600100200"),
    ],
)
def test_typed_numbers_are_normalised(typed: str, e164: str) -> None:
    assert normalise_phone_number(typed) == e164


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "empty"),
        ("abc", "garbage"),
        ("600 100 20x", "garbage"),
        ("12", "garbage"),
        ("+" * 5, "garbage"),
        ("1" * 41, "too_long"),
        ("６００１００２００", "garbage"),
    ],
)
def test_garbage_is_not_a_number(typed: str, reason: str) -> None:
    with pytest.raises(NotAPhoneNumber) as refused:
        normalise_phone_number(typed)
    assert refused.value.reason == reason
    # The search page tells the consultant why, in Polish.
    assert f"home.search_{reason}" in load_texts()


def test_every_topic_and_language_of_the_ivr_menu_has_a_polish_name() -> None:
    import yaml

    from tests.data import MENU_FILE

    menu = yaml.safe_load(MENU_FILE.read_text(encoding="utf-8"))
    texts = load_texts()
    for topic in menu["topics"]:
        assert f"topics.{topic}" in texts, topic
    languages = {
        language
        for node in menu["nodes"].values()
        if node.get("kind") == "language"
        for language in node["languages"].values()
    }
    assert languages
    for language in languages:
        assert f"languages.{language}" in texts, language


def test_every_call_outcome_has_a_polish_name() -> None:
    from hotline.outcomes import CallOutcome

    texts = load_texts()
    assert [o.value for o in CallOutcome if f"outcomes.{o.value}" not in texts] == []
