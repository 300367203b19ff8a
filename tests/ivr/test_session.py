"""The menu interpreter on a scripted caller: every path, navigation, errors, hours, call-backs, hang-ups."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hotline.datafiles import load_yaml
from hotline.outcomes import CallOutcome as Outcome
from hotline.phone import parse_dialable as parse_phone_number
from ivr.hours import OpeningHours, load_hours
from ivr.menu import (
    Menu,
    MenuPath,
    ReturningCallerNode,
    enumerate_paths,
    load_menu,
    menu_from_data,
)
from ivr.session import IvrResult, run_ivr
from tests.data import CATALOG, QUEUE_NAMES
from tests.data import MENU_FILE as DEFAULT_MENU_FILE
from tests.ivr.fakes import (
    Action,
    BargeIn,
    FakeChannel,
    FakeEnvironment,
    FakeJournal,
    HangUp,
    Press,
    Type,
    Wait,
)

WARSAW = ZoneInfo("Europe/Warsaw")
OPEN = datetime(2026, 6, 10, 10, 0, tzinfo=WARSAW)  # a Wednesday morning
CLOSED = datetime(2026, 6, 10, 20, 0, tzinfo=WARSAW)  # the same evening

MENU = load_menu(DEFAULT_MENU_FILE, CATALOG, QUEUE_NAMES)
HOURS = load_hours()

# The prompts of the main menu and of a topic, in Polish, as the caller hears them.
MAIN = ["pl/main_menu", "pl/hint_consultant"]
JOBS = ["pl/info_jobs", "pl/hint_consultant_topic", "pl/info_jobs_details", "pl/topic_options"]
WELCOME = ["pl/greeting", "pl/language_choice", "uk/language_choice", "en/language_choice"]


async def call(
    script: list[Action],
    *,
    at: datetime = OPEN,
    callerid: str = "600100200",
    recent: str | None = None,
    menu: Menu = MENU,
    hours: OpeningHours = HOURS,
) -> tuple[IvrResult, FakeChannel, FakeJournal]:
    channel = FakeChannel(script=list(script), env=FakeEnvironment(callerid=callerid))
    journal = FakeJournal(recent=recent)
    result = await run_ivr(channel, menu, hours, journal, sounds_dir="/sounds", now=lambda: at)
    assert channel.script == [], f"the caller had more to do: {channel.script}"
    assert len(journal.finished) == 1, journal.finished
    return result, channel, journal


def presses(*keys: str) -> list[Action]:
    return [Press(key) for key in keys]


def modified_menu(change: Any) -> Menu:
    data = copy.deepcopy(load_yaml(DEFAULT_MENU_FILE))
    change(data)
    return menu_from_data(data, CATALOG, QUEUE_NAMES)


# --- Every path of the menu file ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", enumerate_paths(MENU), ids=lambda p: "-".join(p.keys) + f"->{p.terminal}")
async def test_every_path_of_the_menu_ends_where_the_menu_says(path: MenuPath) -> None:
    result, channel, journal = await call(presses(*path.keys))

    assert channel.answered
    assert result.language == path.language
    assert result.topic == path.topic
    assert journal.languages == [path.language]
    # Every node is journaled on entry, except the returning-caller offer, which a first-time caller skips.
    entered = [node for node, key in journal.steps if key is None]
    assert entered == [n for n in path.nodes if not isinstance(MENU.node(n), ReturningCallerNode)]
    if path.queue is not None:
        assert result == IvrResult(Outcome.QUEUED, path.queue, path.language, path.topic)
        assert journal.finished == [("queued", path.queue)]
        transfer = "transfer_ecam" if path.queue == "ecam" else "transfer"
        assert channel.prompts[-1] == f"{path.language}/{transfer}"
        assert channel.variables["HOTLINE_QUEUE"] == path.queue
        assert channel.variables["HOTLINE_OUTCOME"] == "queued"
        assert channel.variables["HOTLINE_TOPIC"] == path.topic
    else:
        assert result.outcome is Outcome.SELF_SERVICE and result.queue is None
        assert journal.finished == [("self_service", None)]
        assert channel.prompts[-1] == f"{path.language}/goodbye"
        assert "HOTLINE_QUEUE" not in channel.variables
        assert channel.variables["HOTLINE_OUTCOME"] == "self_service"
    assert channel.variables["HOTLINE_LANGUAGE"] == path.language


def test_the_paths_reach_every_queue_in_every_language() -> None:
    reached = {(p.language, p.queue) for p in enumerate_paths(MENU) if p.queue is not None}
    assert reached == {(lang, queue) for lang in ("pl", "uk", "en") for queue in QUEUE_NAMES}


# --- Language -------------------------------------------------------------------------------------------


async def test_no_key_at_the_language_choice_means_polish() -> None:
    result, channel, journal = await call([Wait(), *presses("1", "0")])

    assert result == IvrResult(Outcome.QUEUED, "jobs", "pl", "jobs")
    assert channel.prompts == [*WELCOME, *MAIN, *JOBS, "pl/transfer"]
    assert ("welcome", "timeout") in journal.steps
    assert channel.waits[0] == 3000  # the language node's own timeout, not the default


async def test_languages_are_offered_in_their_own_language_and_the_greeting_is_repeated_in_ukrainian() -> (
    None
):
    result, channel, journal = await call(presses("2", "5", "0"))

    assert result == IvrResult(Outcome.QUEUED, "employers", "uk", "employers")
    assert channel.prompts == [
        *WELCOME,
        "uk/greeting",  # the recording notice again, in a language the caller understands
        "uk/main_menu", "uk/hint_consultant",
        "uk/info_employers", "uk/hint_consultant_topic", "uk/info_employers_details", "uk/topic_options",
        "uk/transfer",
    ]  # fmt: skip
    assert journal.languages == ["uk"]


async def test_english() -> None:
    result, channel, _ = await call(presses("3", "6", "0"))

    assert result == IvrResult(Outcome.QUEUED, "ecam", "en", "youth")
    assert channel.prompts[4] == "en/greeting"
    assert channel.prompts[-1] == "en/transfer_ecam"


async def test_wrong_keys_at_the_language_choice_end_in_polish_not_in_a_hang_up() -> None:
    result, channel, journal = await call([*presses("7", "8", "9"), *presses("0")])

    assert result == IvrResult(Outcome.QUEUED, "consultant", "pl", "general")
    assert channel.prompts.count("pl/invalid_key") == 2  # after the 3rd wrong key: Polish, no more re-prompts
    assert [key for node, key in journal.steps if node == "welcome"] == [
        None,
        "invalid:7",
        "invalid:8",
        "invalid:9",
    ]


# --- Repeat, back, type-ahead ------------------------------------------------------------------------------


async def test_star_repeats_the_current_menu_without_the_intro() -> None:
    result, channel, journal = await call(presses("1", "*", "1", "*", "1", "0"))

    assert result.queue == "jobs"
    assert channel.prompts == [*WELCOME, *MAIN, *MAIN, *JOBS, *JOBS, *JOBS, "pl/transfer"]
    assert (
        ("main", "*") in journal.steps and ("jobs", "*") in journal.steps and ("jobs", "1") in journal.steps
    )


async def test_star_at_the_language_choice_repeats_the_choice_but_not_the_greeting() -> None:
    _, channel, _ = await call(presses("*", "1", "0"))

    assert channel.prompts[:7] == [*WELCOME, "pl/language_choice", "uk/language_choice", "en/language_choice"]


async def test_hash_goes_back_one_menu_at_a_time() -> None:
    result, channel, journal = await call(presses("1", "4", "1", "#", "#", "5", "0"))

    assert result == IvrResult(Outcome.QUEUED, "employers", "pl", "employers")
    entered = [node for node, key in journal.steps if key is None]
    assert entered == [
        "welcome",
        "main",
        "abroad",
        "eures_info",
        "abroad",
        "main",
        "employers",
        "to_employers",
    ]
    assert channel.prompt_ids().count("main_menu") == 2


async def test_hash_from_the_main_menu_returns_to_the_language_choice() -> None:
    result, channel, journal = await call(presses("1", "#", "3", "2", "0"))

    assert result == IvrResult(Outcome.QUEUED, "training", "en", "training")
    # Back at the language choice: the choices again, without the greeting.
    assert channel.prompts[len(WELCOME) + len(MAIN) : len(WELCOME) + len(MAIN) + 4] == [
        "pl/language_choice", "uk/language_choice", "en/language_choice", "en/greeting",
    ]  # fmt: skip
    assert journal.languages == ["pl", "en"]


async def test_hash_at_the_root_just_repeats() -> None:
    result, channel, _ = await call(presses("#", "1", "0"))

    assert result.queue == "consultant"
    assert channel.prompts.count("pl/greeting") == 1
    assert channel.prompts.count("pl/language_choice") == 2


async def test_keys_typed_during_prompts_cut_them_short() -> None:
    script: list[Action] = [
        BargeIn("1", during="greeting"),
        BargeIn("3", during="main_menu"),
        BargeIn("2", during="registration_menu"),
        BargeIn("0", during="info_benefits"),
    ]
    result, channel, _ = await call(script)

    assert result == IvrResult(Outcome.QUEUED, "registration", "pl", "registration")
    assert channel.prompts == [
        "pl/greeting", "pl/main_menu", "pl/registration_menu", "pl/info_benefits", "pl/transfer",
    ]  # fmt: skip
    assert channel.waits == []  # never had to wait for a key


async def test_a_key_typed_during_the_invalid_key_notice_answers_the_menu() -> None:
    result, channel, _ = await call([*presses("1", "7"), BargeIn("2", during="invalid_key"), Press("0")])

    assert result.queue == "training"
    assert channel.prompt_ids().count("main_menu") == 1


async def test_a_key_typed_during_the_repeated_greeting_goes_to_the_main_menu() -> None:
    result, channel, _ = await call([Press("2"), BargeIn("5", during="greeting"), Press("0")], recent="jobs")

    assert result == IvrResult(Outcome.QUEUED, "employers", "uk", "employers")
    assert "uk/main_menu" not in channel.prompts
    assert "uk/returning_offer" not in channel.prompts  # typed ahead: no returning-caller offer either


# --- Wrong keys and timeouts ------------------------------------------------------------------------------


async def test_three_wrong_keys_in_the_main_menu_reach_the_general_consultant_queue() -> None:
    result, channel, journal = await call(presses("1", "7", "8", "*", "9"))

    assert result == IvrResult(Outcome.QUEUED, "consultant", "pl", "general")
    assert channel.prompt_ids().count("invalid_key") == 3
    assert channel.prompt_ids()[-2:] == ["invalid_key", "transfer"]
    assert [k for n, k in journal.steps if n == "main"] == [None, "invalid:7", "invalid:8", "*", "invalid:9"]
    assert journal.topics == ["general"]


async def test_timeouts_in_a_topic_reach_that_topics_queue() -> None:
    result, channel, journal = await call([*presses("1", "1"), Wait(), Wait(), Wait()])

    assert result == IvrResult(Outcome.QUEUED, "jobs", "pl", "jobs")
    assert channel.prompt_ids().count("no_input") == 3
    assert channel.prompt_ids().count("info_jobs") == 3
    assert [k for n, k in journal.steps if n == "jobs"] == [None, "timeout", "timeout", "timeout"]


async def test_timeouts_and_wrong_keys_count_together_per_menu() -> None:
    result, channel, _ = await call([*presses("1", "6"), Wait(), Press("5"), Wait()])

    assert result.queue == "ecam"
    assert channel.prompt_ids()[-2:] == ["no_input", "transfer_ecam"]


async def test_a_good_key_after_errors_still_goes_where_it_says() -> None:
    result, _, _ = await call([*presses("1", "8"), Wait(), Press("2"), Press("9")])

    assert result == IvrResult(Outcome.SELF_SERVICE, None, "pl", "training")


async def test_max_tries_is_configurable_per_menu() -> None:
    menu = modified_menu(lambda data: data["nodes"]["main"].update(max_tries=2))
    result, channel, _ = await call(presses("1", "7", "8"), menu=menu)

    assert result.queue == "consultant"
    assert channel.prompt_ids().count("invalid_key") == 2


# --- Outside the consultants' hours -----------------------------------------------------------------------


async def test_information_stays_available_outside_hours() -> None:
    result, channel, _ = await call(presses("1", "2", "1", "9"), at=CLOSED)

    assert result == IvrResult(Outcome.SELF_SERVICE, None, "pl", "training")
    assert channel.prompt_ids().count("info_training") == 2
    assert "closed" not in channel.prompt_ids()


async def test_after_hours_callback_to_the_callers_own_number() -> None:
    result, channel, journal = await call(
        presses("1", "0", "1", "1", "1"), at=CLOSED, callerid="+48600100200"
    )

    assert result == IvrResult(Outcome.CALLBACK_REQUESTED, None, "pl", "general")
    assert journal.callbacks == [("+48600100200", "general", True)]
    assert journal.finished == [("callback_requested", None)]
    assert channel.heard[-8:] == [
        "pl/closed", "pl/callback_offer",
        "pl/callback_caller_number", "digits:600100200", "pl/callback_caller_number_keys",
        "pl/callback_consent", "pl/callback_registered", "pl/goodbye",
    ]  # fmt: skip
    assert "HOTLINE_QUEUE" not in channel.variables
    assert channel.variables["HOTLINE_OUTCOME"] == "callback_requested"
    assert "transfer" not in channel.prompt_ids()


async def test_after_hours_callback_to_a_typed_number_read_back_before_it_is_confirmed() -> None:
    script: list[Action] = [*presses("1", "1", "0", "1"), Type("601234567"), Press("1"), Press("1")]
    result, channel, journal = await call(script, at=CLOSED, callerid="unknown")

    assert result == IvrResult(Outcome.CALLBACK_REQUESTED, None, "pl", "jobs")
    assert journal.callbacks == [("+48601234567", "jobs", True)]
    assert channel.heard[-7:] == [
        "pl/callback_enter_number", "pl/callback_readback", "digits:601234567", "pl/callback_confirm",
        "pl/callback_consent", "pl/callback_registered", "pl/goodbye",
    ]  # fmt: skip
    assert "pl/callback_caller_number" not in channel.heard  # withheld: nothing to offer
    assert ("callback_number", "entered") in journal.steps
    assert not any("601234567" in str(key) for _, key in journal.steps)  # no personal data in the steps


async def test_callback_to_another_number_abroad_after_a_typo() -> None:
    script: list[Action] = [
        *presses("3", "4", "0", "1"),
        Press("2"),  # not the caller ID
        Type("12"),  # too short
        Type("00380671234567"),  # a Ukrainian mobile
        Press("2"),  # read back; key it in again
        Type("00380671234568"),
        Press("1"),
        Press("1"),
    ]
    result, channel, journal = await call(script, at=CLOSED, callerid="48600100200")

    assert (
        result.outcome is Outcome.CALLBACK_REQUESTED and result.language == "en" and result.topic == "abroad"
    )
    assert journal.callbacks == [("+380671234568", "abroad", True)]
    said = [item for item in channel.heard if item.startswith("digits:")]
    assert said == ["digits:600100200", "digits:00380671234567", "digits:00380671234568"]
    assert "en/callback_number_invalid" in channel.heard


async def test_no_consent_means_no_callback_request() -> None:
    result, channel, journal = await call(presses("1", "0", "1", "1", "2"), at=CLOSED)

    assert result == IvrResult(Outcome.CALLBACK_DECLINED, None, "pl", "general")
    assert journal.callbacks == []
    assert channel.prompt_ids()[-2:] == ["callback_not_registered", "goodbye"]


async def test_declining_the_callback_offer_returns_to_the_menu() -> None:
    result, channel, journal = await call(presses("1", "5", "0", "#", "9"), at=CLOSED)

    assert result == IvrResult(Outcome.SELF_SERVICE, None, "pl", "employers")
    assert channel.prompt_ids().count("info_employers") == 2
    assert journal.callbacks == []


async def test_silence_at_the_callback_offer_ends_politely() -> None:
    result, channel, _ = await call([*presses("1", "0"), Wait(), Wait(), Wait()], at=CLOSED)

    # The caller pressed keys before: the offer is asked again, then the call ends, saying what happened.
    assert result.outcome is Outcome.NO_INPUT
    assert channel.prompt_ids().count("callback_offer") == 3
    assert channel.prompt_ids()[-2:] == ["callback_not_registered", "goodbye"]


async def test_errors_outside_hours_lead_to_the_callback_offer_not_to_an_empty_queue() -> None:
    result, _, journal = await call(
        [*presses("1", "7", "7", "7"), *presses("1", "1", "1")], at=CLOSED, callerid="600100200"
    )

    assert result.outcome is Outcome.CALLBACK_REQUESTED
    assert journal.callbacks == [("+48600100200", "general", True)]


async def test_a_public_holiday_is_outside_hours() -> None:
    independence_day = datetime(2026, 11, 11, 10, 0, tzinfo=WARSAW)
    result, channel, _ = await call(presses("1", "0", "#", "0", "1", "1", "1"), at=independence_day)

    assert result.outcome is Outcome.CALLBACK_REQUESTED
    assert channel.prompt_ids().count("closed") == 2


# --- Returning callers ------------------------------------------------------------------------------------


async def test_a_returning_caller_can_continue_with_the_last_topic() -> None:
    result, channel, journal = await call(presses("1", "9", "0"), recent="jobs")

    assert result == IvrResult(Outcome.QUEUED, "jobs", "pl", "jobs")
    assert channel.prompts == [
        *WELCOME, "pl/returning_offer", "pl/topic_jobs", "pl/returning_keys", *JOBS, "pl/transfer",
    ]  # fmt: skip
    assert ("returning", "9") in journal.steps


async def test_back_from_the_continued_topic_leads_to_the_main_menu() -> None:
    result, channel, _ = await call(presses("1", "9", "#", "2", "0"), recent="jobs")

    assert result.queue == "training"
    assert channel.prompts[7 : 7 + len(JOBS) + 1] == [*JOBS, "pl/main_menu"]


async def test_a_returning_caller_who_waits_hears_the_main_menu() -> None:
    result, channel, _ = await call([Press("3"), Wait(), *presses("2", "0")], recent="registration")

    assert result == IvrResult(Outcome.QUEUED, "training", "en", "training")
    assert channel.prompts[5:8] == ["en/returning_offer", "en/topic_registration", "en/returning_keys"]
    assert channel.prompts[8] == "en/main_menu"


MAIN_OPTIONS = sorted(MENU.node("main").options.items())  # type: ignore[union-attr]


@pytest.mark.parametrize(("key", "target"), MAIN_OPTIONS)
@pytest.mark.parametrize("recent", ["jobs", None])
async def test_a_key_typed_at_the_offer_means_the_main_menu(
    key: str, target: str, recent: str | None
) -> None:
    """Returning or first-time, a caller who knows the menu types "1" then a topic key: the topic key is the
    main menu's answer, never taken by the returning-caller offer nor thrown away."""
    _, channel, journal = await call([Press("1"), BargeIn(key), HangUp()], recent=recent)

    assert ("main", key) in journal.steps
    entered = [node for node, pressed in journal.steps if pressed is None]
    assert entered[-1] == target
    # The returning caller cut the offer short with the key; the first-time caller, the main menu.
    assert ("returning_offer" in channel.prompt_ids()) == (recent is not None)
    assert ("main_menu" in channel.prompt_ids()) == (recent is None)


def test_the_offer_key_is_no_option_of_the_main_menu() -> None:
    returning = MENU.node("returning")
    assert isinstance(returning, ReturningCallerNode)
    assert returning.key not in MENU.node("main").options  # type: ignore[union-attr]


async def test_a_returning_caller_of_the_general_line_can_go_straight_to_a_consultant() -> None:
    result, _, _ = await call(presses("1", "9"), recent="general")

    assert result == IvrResult(Outcome.QUEUED, "consultant", "pl", "general")


@pytest.mark.parametrize("recent", [None, "a_topic_no_longer_in_the_menu"])
async def test_no_offer_without_a_known_recent_topic(recent: str | None) -> None:
    _, channel, journal = await call(presses("1", "1", "0"), recent=recent)

    assert "pl/returning_offer" not in channel.prompts
    assert journal.recent_topic_asked == 1
    assert not any(node == "returning" for node, _ in journal.steps)


# --- Hang-ups ------------------------------------------------------------------------------------------


async def test_hang_up_in_the_main_menu() -> None:
    result, channel, journal = await call([Press("1"), HangUp(during="main_menu")])

    assert result.outcome is Outcome.HUNG_UP_IN_MENU
    assert journal.finished == [("hung_up_in_menu", None)]
    assert "HOTLINE_OUTCOME" not in channel.variables  # the channel is gone


async def test_hang_up_right_after_choosing_a_language() -> None:
    _, _, journal = await call([*presses("1"), HangUp()])

    assert journal.finished == [("hung_up_in_menu", None)]


async def test_hang_up_at_the_greeting() -> None:
    _, _, journal = await call([HangUp(during="greeting")])

    assert journal.finished == [("hung_up_in_menu", None)]
    assert journal.languages == []


async def test_hanging_up_after_the_information_counts_as_self_service() -> None:
    result, _, journal = await call([*presses("1", "5"), HangUp(during="topic_options")])

    assert result == IvrResult(Outcome.SELF_SERVICE, None, "pl", "employers")
    assert journal.finished == [("self_service", None)]


async def test_hanging_up_on_the_way_to_a_consultant_is_not_self_service() -> None:
    _, _, journal = await call([*presses("1", "5", "0"), HangUp(during="transfer")])

    assert journal.finished == [("hung_up_in_menu", None)]


async def test_hang_up_while_typing_a_callback_number() -> None:
    _, _, journal = await call([*presses("1", "0", "1", "2"), HangUp()], at=CLOSED)

    assert journal.finished == [("hung_up_in_menu", None)]
    assert journal.callbacks == []


# --- The journal and the channel variables -----------------------------------------------------------


async def test_the_journal_gets_every_node_and_key_in_order() -> None:
    _, channel, journal = await call([*presses("2", "3", "9", "1"), Wait(), Press("0")])

    assert journal.steps == [
        ("welcome", None), ("welcome", "2"),
        ("main", None), ("main", "3"),
        ("registration", None), ("registration", "invalid:9"), ("registration", "1"),
        ("registration_info", None), ("registration_info", "timeout"), ("registration_info", "0"),
        ("to_registration", None),
    ]  # fmt: skip
    assert journal.languages == ["uk"]
    assert journal.topics == ["registration"]  # set once, though two nodes carry it
    assert journal.finished == [("queued", "registration")]
    assert channel.variables == {
        "HOTLINE_LANGUAGE": "uk",
        "HOTLINE_TOPIC": "registration",
        "HOTLINE_QUEUE": "registration",
        "HOTLINE_OUTCOME": "queued",
    }


async def test_prompt_files_are_under_the_sounds_dir_by_language() -> None:
    channel = FakeChannel(script=presses("1", "0"), sounds_dir="/var/lib/hotline/sounds")
    await run_ivr(
        channel, MENU, HOURS, FakeJournal(), sounds_dir="/var/lib/hotline/sounds/", now=lambda: OPEN
    )

    # The fake refuses files outside its sounds_dir; a doubled slash would show up as "/pl/greeting".
    assert channel.prompts[0] == "pl/greeting"


async def test_every_prompt_the_interpreter_plays_is_in_the_catalog() -> None:
    _, channel, _ = await call(
        [*presses("3", "4", "2", "*", "#", "1", "0", "1", "2"), Type("601234567"), *presses("1", "1")],
        at=CLOSED,
    )
    for name in channel.prompts:
        lang, prompt_id = name.split("/")
        assert CATALOG.text(prompt_id, lang)


# --- Phone numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164", "spoken"),
    [
        ("600100200", "+48600100200", "600100200"),
        ("+48600100200", "+48600100200", "600100200"),
        ("0048600100200", "+48600100200", "600100200"),
        ("48600100200", "+48600100200", "600100200"),
        ("223456789", "+48223456789", "223456789"),
        ("00380671234567", "+380671234567", "00380671234567"),
        ("+380671234567", "+380671234567", "00380671234567"),
    ],
)
def test_phone_numbers_are_read_as_e164(raw: str, e164: str, spoken: str) -> None:
    number = parse_phone_number(raw)
    assert number is not None
    assert (number.e164, number.spoken) == (e164, spoken)


@pytest.mark.parametrize("raw", ["", "unknown", "Anonymous", "12", "600*100200", "0000000000", "1" * 20])
def test_unusable_phone_numbers(raw: str) -> None:
    assert parse_phone_number(raw) is None


# --- Callers who press nothing ------------------------------------------------------------------------------


async def test_a_silent_caller_reaches_a_consultant_after_one_round_of_the_main_menu() -> None:
    result, channel, journal = await call([Wait(), Wait()])

    assert result == IvrResult(Outcome.QUEUED, "consultant", "pl", "general")
    assert channel.prompt_ids().count("main_menu") == 1
    assert ("main", "timeout") in journal.steps and ("to_consultant", None) in journal.steps


async def test_a_silent_caller_outside_hours_hears_the_hours_and_the_offer_once() -> None:
    result, channel, _ = await call([Wait(), Wait(), Wait()], at=CLOSED)

    assert result.outcome is Outcome.NO_INPUT
    ids = channel.prompt_ids()
    assert ids.count("closed") == 1 and ids.count("callback_offer") == 1
    assert ids[-1] == "goodbye"


async def test_a_caller_who_pressed_keys_gets_the_usual_tries() -> None:
    # Polish pressed, then silence in the main menu: re-prompted, as before, up to max_tries.
    result, channel, _ = await call([Press("1"), Wait(), Wait(), Wait()])

    assert result.queue == "consultant"
    assert channel.prompt_ids().count("no_input") >= 2
