"""The 19524 menu end to end: real SIP calls through every path of ``ivr/menu.yaml`` on the real Asterisk.

What is asserted is what the caller experiences (the AMI picture of the call: prompts streamed, keys read,
the queue joined or the hotline hanging up) and what was stored (the call, its steps, call-back requests).
Keys are typed ahead (pressed as soon as a prompt that accepts keys starts), so a call takes seconds even
though the prompts are long; only the timeout test waits for the prompts to end.
"""

from __future__ import annotations

import logging
import wave
from collections.abc import Sequence
from datetime import datetime

import pytest
from sqlalchemy import select

from devtools.testcall import TestCallResult as CallResult
from devtools.testcall import place_test_call, random_caller
from hotline.db import Call, CallStep
from hotline.db.models import CallbackRequest
from ivr.menu import (
    LanguageNode,
    MenuNode,
    MenuPath,
    QueueNode,
    ReturningCallerNode,
    enumerate_paths,
    load_menu,
)
from launcher.runner import Hotline
from tests.data import CATALOG, MENU_FILE, QUEUE_NAMES
from tests.e2e.conftest import WARSAW, eventually
from tests.e2e.conftest import TestClock as Clock

MENU = load_menu(MENU_FILE, CATALOG, QUEUE_NAMES)
PATHS = enumerate_paths(MENU)

# A working Wednesday, but after hours; and a public holiday (Independence Day) on a Wednesday morning.
EVENING = datetime(2026, 12, 2, 20, 0, tzinfo=WARSAW)
HOLIDAY = datetime(2026, 11, 11, 10, 0, tzinfo=WARSAW)

Step = tuple[str, str | None]


# --- Helpers ------------------------------------------------------------------------------------------------


async def stored_call(hotline: Hotline, result: CallResult) -> Call:
    """The call as stored, once it has ended and has an outcome."""
    assert hotline.services is not None and hotline.recorder is not None
    assert result.uniqueid, result.describe()
    sessions = hotline.services.sessions
    recorder = hotline.recorder

    async def fetch() -> Call | None:
        # What the hotline has reported so far is written (the IVR's journal of a call that hung up in the
        # menu may come after the hang-up itself).
        await recorder.drain()
        async with sessions() as session:
            call = await session.scalar(select(Call).where(Call.uniqueid == result.uniqueid))
        if call is None or call.ended_at is None or call.outcome is None:
            return None
        return call

    return await eventually(fetch, what=f"call {result.uniqueid} stored and closed")


async def stored_steps(hotline: Hotline, call: Call) -> list[Step]:
    assert hotline.services is not None
    async with hotline.services.sessions() as session:
        rows = await session.execute(
            select(CallStep.node, CallStep.key).where(CallStep.call_id == call.id).order_by(CallStep.id)
        )
        return [(node, key) for node, key in rows.all()]


async def callback_requests(hotline: Hotline, number: str) -> list[CallbackRequest]:
    assert hotline.services is not None
    async with hotline.services.sessions() as session:
        rows = await session.scalars(
            select(CallbackRequest).where(CallbackRequest.number == number).order_by(CallbackRequest.id)
        )
        return list(rows.all())


def expected_steps(path: MenuPath) -> list[Step]:
    """The journal of a first-time caller on ``path``: each node entered, then the key pressed there.

    The returning-caller node is passed through silently for a number that has not called before.
    """
    keys = iter(path.keys)
    steps: list[Step] = []
    for node_id in path.nodes:
        if isinstance(MENU.nodes[node_id], ReturningCallerNode):
            continue
        steps.append((node_id, None))
        if node_id != path.terminal:
            steps.append((node_id, next(keys)))
    assert next(keys, None) is None, f"keys left over on {path}"
    return steps


def menu_node(node_id: str) -> MenuNode:
    node = MENU.nodes[node_id]
    assert isinstance(node, MenuNode), node
    return node


def queue_of(node_id: str) -> str:
    node = MENU.nodes[node_id]
    assert isinstance(node, QueueNode), node
    return node.queue


def path_id(path: MenuPath) -> str:
    return f"{''.join(path.keys)}-{path.nodes[-2]}-{path.terminal}"


async def call(
    hotline: Hotline,
    digits: Sequence[str],
    *,
    caller: str | None = None,
    until: str = "settled",
    timeout: float = 60.0,
) -> CallResult:
    """A test call from ``caller`` (a new random number by default) typing every key ahead."""
    assert hotline.ami is not None
    result = await place_test_call(
        hotline.ami,
        "19524",
        list(digits),
        caller=caller or random_caller(),
        type_ahead_from=0,
        until=until,
        timeout=timeout,
    )
    assert result.answered, result.describe()
    assert not result.fallback, result.describe()
    return result


def waits_for_digit(result: CallResult) -> bool:
    return any(c.command == "WAIT FOR DIGIT" for c in result.commands)


# --- 1. Every path of the menu ------------------------------------------------------------------------------


def test_the_paths_are_those_of_the_running_menu(hotline: Hotline) -> None:
    assert hotline.services is not None
    assert enumerate_paths(hotline.services.menu) == PATHS
    # Every language, every queue and the self-service end are covered.
    welcome = MENU.nodes[MENU.root]
    assert isinstance(welcome, LanguageNode)
    assert {p.language for p in PATHS} == set(welcome.languages.values())
    assert {p.queue for p in PATHS} >= {"consultant", "jobs", "training", "registration", "abroad", "ecam"}
    assert any(p.queue is None for p in PATHS)


@pytest.mark.parametrize("path", PATHS, ids=[path_id(p) for p in PATHS])
async def test_every_path_of_the_menu(hotline: Hotline, clock: Clock, path: MenuPath) -> None:
    result = await call(hotline, path.keys)

    assert result.digits_sent == list(path.keys), result.describe()
    if path.queue is not None:
        assert result.queue == path.queue, result.describe()
        assert not result.hung_up, result.describe()
    else:
        # Self-service: the hotline says goodbye and hangs up.
        assert result.queue is None, result.describe()
        assert result.hung_up, result.describe()
        assert result.prompt_played("goodbye"), result.describe()

    stored = await stored_call(hotline, result)
    assert stored.language == path.language
    assert stored.topic == path.topic
    assert stored.outcome == ("queued" if path.queue else "self_service")
    assert stored.queue == path.queue
    assert await stored_steps(hotline, stored) == expected_steps(path)


# --- 2. Wrong keys ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "menu", "wrong", "fallback", "queue", "topic"),
    [
        (["1", "7", "8", "9"], "main", ["7", "8", "9"], "to_consultant", "consultant", "general"),
        (["1", "1", "5", "4", "5"], "jobs", ["5", "4", "5"], "to_jobs", "jobs", "jobs"),
    ],
    ids=["main", "jobs"],
)
async def test_wrong_keys_lead_to_the_fallback_queue(
    hotline: Hotline,
    clock: Clock,
    digits: list[str],
    menu: str,
    wrong: list[str],
    fallback: str,
    queue: str,
    topic: str,
) -> None:
    node = menu_node(menu)
    assert node.max_tries == len(wrong) and node.fallback == fallback
    assert queue_of(fallback) == queue

    result = await call(hotline, digits)

    assert result.queue == queue, result.describe()
    assert not result.hung_up
    # Told after each wrong key, the last time in full before the transfer.
    assert result.prompts.count("invalid_key") == len(wrong), result.describe()
    assert result.prompt_played("invalid_key")
    stored = await stored_call(hotline, result)
    assert (stored.outcome, stored.queue, stored.topic) == ("queued", queue, topic)
    steps = await stored_steps(hotline, stored)
    assert steps[steps.index((menu, None)) :] == [
        (menu, None),
        *[(menu, f"invalid:{k}") for k in wrong],
        (fallback, None),
    ]


async def test_a_wrong_key_then_a_right_one_goes_on(hotline: Hotline, clock: Clock) -> None:
    result = await call(hotline, ["1", "8", "0"])
    assert result.queue == "consultant", result.describe()
    stored = await stored_call(hotline, result)
    assert await stored_steps(hotline, stored) == [
        ("welcome", None),
        ("welcome", "1"),
        ("main", None),
        ("main", "invalid:8"),
        ("main", "0"),
        ("to_consultant", None),
    ]


async def test_wrong_keys_at_the_language_choice_fall_back_to_polish(hotline: Hotline, clock: Clock) -> None:
    result = await call(hotline, ["7", "8", "9", "0"])
    assert result.queue == "consultant", result.describe()
    stored = await stored_call(hotline, result)
    assert stored.language == "pl"
    assert await stored_steps(hotline, stored) == [
        ("welcome", None),
        ("welcome", "invalid:7"),
        ("welcome", "invalid:8"),
        ("welcome", "invalid:9"),
        ("main", None),
        ("main", "0"),
        ("to_consultant", None),
    ]


# --- 3. Timeouts --------------------------------------------------------------------------------------------


async def test_a_silent_caller_ends_in_the_consultant_queue(hotline: Hotline, clock: Clock) -> None:
    # Polish is chosen, then nothing: the main menu (≈ 11 s of prompts) is said max_tries times, with a
    # 5 s wait after each; the caller is then transferred, never hung up on.
    main = menu_node("main")
    result = await call(hotline, ["1"], until="queue", timeout=300)

    assert result.queue == queue_of(main.fallback), result.describe()
    assert not result.hung_up
    assert [c.command for c in result.commands].count("WAIT FOR DIGIT") == main.max_tries
    assert result.prompts.count("no_input") == main.max_tries
    assert result.prompts.count("main_menu") == main.max_tries
    stored = await stored_call(hotline, result)
    assert (stored.outcome, stored.queue, stored.topic) == ("queued", "consultant", "general")
    assert await stored_steps(hotline, stored) == [
        ("welcome", None),
        ("welcome", "1"),
        ("main", None),
        *[("main", "timeout")] * main.max_tries,
        ("to_consultant", None),
    ]


# --- 4. Repeat and back -------------------------------------------------------------------------------------


async def test_star_repeats_the_menu(hotline: Hotline, clock: Clock) -> None:
    result = await call(hotline, ["1", "*", "*", "0"])
    assert result.queue == "consultant", result.describe()
    # The main menu started three times: on arrival and after each `*`.
    assert result.prompts.count("main_menu") == 3, result.describe()
    stored = await stored_call(hotline, result)
    assert await stored_steps(hotline, stored) == [
        ("welcome", None),
        ("welcome", "1"),
        ("main", None),
        ("main", "*"),
        ("main", "*"),
        ("main", "0"),
        ("to_consultant", None),
    ]


async def test_a_repeat_option_says_the_information_again(hotline: Hotline, clock: Clock) -> None:
    assert menu_node("jobs").options["1"] == "repeat"
    result = await call(hotline, ["1", "1", "1", "0"])
    assert result.queue == "jobs", result.describe()
    assert result.prompts.count("info_jobs") == 2, result.describe()
    stored = await stored_call(hotline, result)
    steps = await stored_steps(hotline, stored)
    assert steps[2:] == [
        ("main", None),
        ("main", "1"),
        ("jobs", None),
        ("jobs", "1"),
        ("jobs", "0"),
        ("to_jobs", None),
    ]


async def test_hash_goes_back_to_the_previous_menu(hotline: Hotline, clock: Clock) -> None:
    result = await call(hotline, ["1", "1", "#", "0"])
    assert result.queue == "consultant", result.describe()
    prompts = result.prompts
    assert prompts.count("main_menu") == 2, result.describe()
    assert prompts.index("info_jobs") < len(prompts) - 1 - prompts[::-1].index("main_menu")
    stored = await stored_call(hotline, result)
    # The topic follows the final choice: back in the main menu, "0" is a general question.
    assert (stored.outcome, stored.queue, stored.topic) == ("queued", "consultant", "general")
    assert await stored_steps(hotline, stored) == [
        ("welcome", None),
        ("welcome", "1"),
        ("main", None),
        ("main", "1"),
        ("jobs", None),
        ("jobs", "#"),
        ("main", None),
        ("main", "0"),
        ("to_consultant", None),
    ]


async def test_hash_goes_back_two_levels(hotline: Hotline, clock: Clock) -> None:
    # registration → its benefits information → back → back → main → abroad → EURES → consultant.
    result = await call(hotline, ["3", "3", "2", "#", "#", "4", "1", "0"])
    assert result.queue == "abroad", result.describe()
    stored = await stored_call(hotline, result)
    assert (stored.language, stored.topic, stored.outcome) == ("en", "abroad", "queued")
    assert [s for s in await stored_steps(hotline, stored) if s[1] is None] == [
        ("welcome", None),
        ("main", None),
        ("registration", None),
        ("benefits_info", None),
        ("registration", None),
        ("main", None),
        ("abroad", None),
        ("eures_info", None),
        ("to_abroad", None),
    ]


# --- 5. Type-ahead ------------------------------------------------------------------------------------------


async def test_keys_typed_during_prompts_interrupt_them(hotline: Hotline, clock: Clock) -> None:
    result = await call(hotline, ["1", "2", "0"])
    assert result.queue == "training", result.describe()

    # Each prompt that asked something was started, interrupted by the key, and never waited after.
    streamed = [c for c in result.commands if c.command == "STREAM FILE"]
    started = [c.prompt for c in streamed]
    assert started[:3] == ["greeting", "main_menu", "info_training"], result.describe()
    for command in streamed[:3]:
        assert command.result_code == 200, command
    assert not waits_for_digit(result), result.describe()
    # Nothing after the interrupted prompt of a node was played: not the language choices, nor the hints.
    assert "language_choice" not in started and "hint_consultant" not in started
    assert "topic_options" not in started
    # The transfer message is not interruptible and was played in full.
    assert result.prompt_played("transfer")
    stored = await stored_call(hotline, result)
    assert (stored.language, stored.topic, stored.queue) == ("pl", "training", "training")


async def test_a_key_typed_during_the_second_greeting_is_kept(hotline: Hotline, clock: Clock) -> None:
    # Ukrainian: the greeting is said again in Ukrainian; the caller already types "6" (young people) there.
    result = await call(hotline, ["2", "6", "0"])
    assert result.queue == "ecam", result.describe()
    started = result.prompts
    assert started.count("greeting") == 2, result.describe()
    # The main menu was not even started: the key typed ahead answered it.
    assert "main_menu" not in started, result.describe()
    assert not waits_for_digit(result)
    stored = await stored_call(hotline, result)
    assert (stored.language, stored.topic) == ("uk", "youth")
    assert [s for s in await stored_steps(hotline, stored) if s[1] is not None] == [
        ("welcome", "2"),
        ("main", "6"),
        ("youth", "0"),
    ]


# --- 6. Hanging up in the IVR -------------------------------------------------------------------------------


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info is not None]
    assert not bad, "\n".join(f"{r.levelname} {r.name}: {r.getMessage()}" for r in bad)


@pytest.mark.parametrize(
    ("digits", "hung_up_during", "outcome", "language", "topic"),
    [
        ([], "greeting", "hung_up_in_menu", None, None),
        (["1"], "main_menu", "hung_up_in_menu", "pl", None),
        (["3", "5"], "info_employers", "self_service", "en", "employers"),
    ],
    ids=["greeting", "main-menu", "topic-information"],
)
async def test_hanging_up_during_a_prompt(
    hotline: Hotline,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    digits: list[str],
    hung_up_during: str,
    outcome: str,
    language: str | None,
    topic: str | None,
) -> None:
    assert hotline.asterisk is not None
    caplog.set_level(logging.INFO)
    asterisk_errors = len(hotline.asterisk.error_lines())
    # Every digit is sent, then the IVR starts the next prompt: the test call hangs up while it plays.
    result = await call(hotline, digits, until="settled")
    assert result.waiting_for_input, result.describe()
    assert result.commands[-1].prompt == hung_up_during, result.describe()
    assert result.queue is None and not result.hung_up

    # Wait for the IVR to finish the call: the AMI listener may record the hang-up first (filling in
    # hung_up_in_menu), and the IVR's own outcome is written last.
    async def ivr_done() -> bool:
        messages = [r.getMessage() for r in caplog.records]
        return any("caller hung up in the IVR" in m for m in messages) and any(
            m.startswith("IVR done:") for m in messages
        )

    await eventually(ivr_done, what="the IVR seeing the hang-up and finishing the call")
    stored = await stored_call(hotline, result)
    assert stored.ended_at is not None
    assert stored.outcome == outcome
    assert (stored.language, stored.topic, stored.queue) == (language, topic, None)
    _no_errors_logged(caplog)
    assert hotline.asterisk.error_lines()[asterisk_errors:] == []


# --- 7. Opening hours: a call-back instead of a queue -------------------------------------------------------


async def test_in_the_evening_a_consultant_becomes_a_call_back(hotline: Hotline, clock: Clock) -> None:
    clock.at = EVENING
    caller = random_caller()
    # Polish, consultant; the "closed" message is interrupted by "1" (call me back), "1" this number,
    # "1" consent.
    result = await call(hotline, ["1", "0", "1", "1", "1"], caller=caller)

    assert result.queue is None, result.describe()
    assert result.hung_up, result.describe()
    assert "closed" in result.prompts
    assert "transfer" not in result.prompts
    assert result.prompt_played("callback_registered") and result.prompt_played("goodbye")
    stored = await stored_call(hotline, result)
    assert (stored.outcome, stored.queue, stored.topic) == ("callback_requested", None, "general")
    assert await stored_steps(hotline, stored) == [
        ("welcome", None),
        ("welcome", "1"),
        ("main", None),
        ("main", "0"),
        ("to_consultant", None),
        ("callback", None),
        ("callback_offer", "1"),
        ("callback_caller_number", "1"),
        ("callback_consent", "1"),
    ]
    requests = await callback_requests(hotline, caller)
    assert len(requests) == 1
    request = requests[0]
    assert (request.number, request.topic, request.status, request.consent) == (
        caller,
        "general",
        "pending",
        True,
    )
    assert request.call_id == stored.id

    # The same caller asks again ("0" at the returning-caller offer is the main menu's "0", a consultant):
    # still one pending request.
    again = await call(hotline, ["1", "0", "1", "1", "1"], caller=caller)
    assert again.hung_up and again.queue is None, again.describe()
    second = await stored_call(hotline, again)
    assert second.outcome == "callback_requested"
    assert ("returning", "0") in await stored_steps(hotline, second)
    requests = await callback_requests(hotline, caller)
    assert [(r.number, r.topic, r.status) for r in requests] == [(caller, "general", "pending")]
    assert requests[0].call_id == stored.id


async def test_on_a_public_holiday_the_line_is_closed(hotline: Hotline, clock: Clock) -> None:
    clock.at = HOLIDAY
    caller = random_caller()
    # English, employers, consultant → call-back offer: yes, this number, consent.
    result = await call(hotline, ["3", "5", "0", "1", "1", "1"], caller=caller)
    assert result.queue is None and result.hung_up, result.describe()
    assert "closed" in result.prompts
    stored = await stored_call(hotline, result)
    assert (stored.outcome, stored.topic, stored.language) == ("callback_requested", "employers", "en")
    requests = await callback_requests(hotline, caller)
    assert [(r.number, r.topic, r.status) for r in requests] == [(caller, "employers", "pending")]


async def test_declining_consent_stores_no_call_back(hotline: Hotline, clock: Clock) -> None:
    clock.at = EVENING
    caller = random_caller()
    result = await call(hotline, ["1", "1", "0", "1", "1", "2"], caller=caller)
    assert result.queue is None and result.hung_up, result.describe()
    assert result.prompt_played("callback_not_registered")
    stored = await stored_call(hotline, result)
    assert (stored.outcome, stored.topic) == ("callback_declined", "jobs")
    assert await callback_requests(hotline, caller) == []


async def test_during_opening_hours_a_consultant_is_a_queue(hotline: Hotline, clock: Clock) -> None:
    # The clock fixture puts the hotline back on the working day after the evening tests.
    result = await call(hotline, ["1", "0"])
    assert result.queue == "consultant", result.describe()
    assert "closed" not in result.prompts


# --- 8. Returning callers -----------------------------------------------------------------------------------


async def test_a_returning_caller_continues_with_the_topic(hotline: Hotline, clock: Clock) -> None:
    caller = random_caller()
    first = await call(hotline, ["1", "1", "0"], caller=caller)
    assert first.queue == "jobs", first.describe()
    first_call = await stored_call(hotline, first)
    assert first_call.topic == "jobs"

    # Next call: Polish, then "9" to the offer to continue with job offers, then "0" for a consultant.
    second = await call(hotline, ["1", "9", "0"], caller=caller)
    assert second.queue == "jobs", second.describe()
    assert "returning_offer" in second.prompts
    assert "main_menu" not in second.prompts, second.describe()
    stored = await stored_call(hotline, second)
    assert stored.previous_call_id == first_call.id
    assert (stored.outcome, stored.queue, stored.topic) == ("queued", "jobs", "jobs")
    assert await stored_steps(hotline, stored) == [
        ("welcome", None),
        ("welcome", "1"),
        ("returning", None),
        ("returning", "9"),
        ("jobs", None),
        ("jobs", "0"),
        ("to_jobs", None),
    ]


async def test_a_returning_caller_can_go_back_to_the_main_menu(hotline: Hotline, clock: Clock) -> None:
    caller = random_caller()
    first = await call(hotline, ["1", "2", "9"], caller=caller)
    assert first.hung_up, first.describe()
    assert (await stored_call(hotline, first)).topic == "training"

    # Continue with training, then `#`: back to the main menu (not to the offer), then a consultant.
    second = await call(hotline, ["1", "9", "#", "0"], caller=caller)
    assert second.queue == "consultant", second.describe()
    stored = await stored_call(hotline, second)
    steps = await stored_steps(hotline, stored)
    assert steps[2:] == [
        ("returning", None),
        ("returning", "9"),
        ("training", None),
        ("training", "#"),
        ("main", None),
        ("main", "0"),
        ("to_consultant", None),
    ]


async def test_a_first_time_caller_gets_no_offer(hotline: Hotline, clock: Clock) -> None:
    result = await call(hotline, ["1", "0"])
    assert "returning_offer" not in result.prompts
    stored = await stored_call(hotline, result)
    assert stored.previous_call_id is None
    assert all(node != "returning" for node, _ in await stored_steps(hotline, stored))


@pytest.mark.parametrize("key", ["1", "2", "6"])
async def test_a_returning_caller_typing_ahead_reaches_the_topic_typed(
    hotline: Hotline, clock: Clock, key: str
) -> None:
    """Keys typed for the main menu mean the main menu: the offer takes none of them."""
    caller = random_caller()
    first = await call(hotline, ["1", "4", "0"], caller=caller)
    assert first.queue == "abroad", first.describe()
    await stored_call(hotline, first)

    target = menu_node("main").options[key]
    second = await call(hotline, ["1", key, "0"], caller=caller, until="queue")
    assert second.queue == queue_of(menu_node(target).options["0"]), second.describe()
    stored = await stored_call(hotline, second)
    steps = await stored_steps(hotline, stored)
    assert ("main", key) in steps and (target, None) in steps, steps


def heard_seconds(hotline: Hotline, result: CallResult) -> float:
    """How long the prompts the caller heard and the waits for a key take, by the prompt files and the
    timeouts the IVR asked for: what a caller who presses nothing sits through, whatever the machine."""
    total = 0.0
    for command in result.commands:
        if command.command == "WAIT FOR DIGIT":
            total += int(command.args[0]) / 1000
        elif command.prompt is not None:
            language = command.args[0].rsplit("/", 2)[-2]  # …/sounds/<language>/<prompt>
            with wave.open(str(hotline.settings.prompts_dir / language / f"{command.prompt}.wav")) as wav:
                total += wav.getnframes() / wav.getframerate()
    return total


async def test_a_caller_who_presses_nothing_reaches_a_consultant_within_a_minute(
    hotline: Hotline, clock: Clock
) -> None:
    result = await call(hotline, [], until="queue", timeout=180)

    assert result.queue == "consultant", result.describe()
    assert result.prompts.count("main_menu") == 1
    assert heard_seconds(hotline, result) <= 60, result.describe()
    stored = await stored_call(hotline, result)
    assert (stored.outcome, stored.queue) == ("queued", "consultant")


async def test_a_caller_who_presses_nothing_after_hours_hears_the_hours_and_the_offer_once(
    hotline: Hotline, clock: Clock
) -> None:
    clock.at = EVENING
    result = await call(hotline, [], until="hangup", timeout=180)

    assert result.hung_up and result.queue is None, result.describe()
    assert result.prompts.count("closed") == 1 and result.prompts.count("callback_offer") == 1
    stored = await stored_call(hotline, result)
    assert stored.outcome == "no_input"
