"""Real SIP calls into 19524 on the real Asterisk: FastAGI, greeting, call record, hang-up, fallback."""

from __future__ import annotations

from sqlalchemy import select

from devtools.testcall import place_test_call
from hotline.ami import actions
from hotline.db import Call, CallStep
from launcher.runner import Hotline
from tests.data import QUEUES
from tests.e2e.conftest import eventually


async def stored_call(hotline: Hotline, uniqueid: str, *, ended: bool = True) -> Call:
    assert hotline.services is not None
    sessions = hotline.services.sessions

    async def fetch() -> Call | None:
        async with sessions() as session:
            call = await session.scalar(select(Call).where(Call.uniqueid == uniqueid))
        if call is None or (ended and call.ended_at is None):
            return None
        return call

    return await eventually(fetch, what=f"call {uniqueid} stored{' and closed' if ended else ''}")


async def test_asterisk_starts_clean(hotline: Hotline) -> None:
    assert hotline.asterisk is not None
    assert hotline.asterisk.error_lines() == []


async def test_call_is_answered_greeted_recorded_and_closed(hotline: Hotline) -> None:
    assert hotline.ami is not None
    # A patient caller: hears the greeting and the language choice, then presses 1 (Polish), 0 (consultant).
    result = await place_test_call(
        hotline.ami,
        "19524",
        ["1", "0"],
        caller="+48600111222",
        recordings_dir=hotline.asterisk_path("spool", "monitor"),
        type_ahead_from=1,
        timeout=120,
    )

    assert result.answered
    assert result.prompt_played("greeting"), "\n".join(map(repr, result.commands))
    # The caller really heard it: the calling leg recorded sound, not silence.
    assert result.heard_seconds is not None and result.heard_seconds >= 1.0, result.heard_seconds
    assert result.queue == QUEUES.default
    assert not result.fallback

    call = await stored_call(hotline, result.uniqueid or "")
    assert call.caller_number == "+48600111222"
    assert not call.caller_withheld
    assert call.answered_at is not None and call.ended_at is not None
    assert call.started_at <= call.answered_at <= call.ended_at
    assert call.outcome == "queued"
    assert call.queue == QUEUES.default
    assert call.language == "pl"
    assert call.linkedid
    assert hotline.services is not None
    async with hotline.services.sessions() as session:
        steps = (
            await session.execute(
                select(CallStep.node, CallStep.key).where(CallStep.call_id == call.id).order_by(CallStep.id)
            )
        ).all()
    # The path: the welcome (greeting + language choice), "1" Polish, the main menu, "0" a consultant.
    assert [tuple(s) for s in steps] == [
        ("welcome", None),
        ("welcome", "1"),
        ("main", None),
        ("main", "0"),
        ("to_consultant", None),
    ]


async def test_withheld_number_is_kept_as_withheld(hotline: Hotline) -> None:
    assert hotline.ami is not None
    result = await place_test_call(hotline.ami, "19524", ["1", "0"], caller="anonymous")
    assert result.answered
    call = await stored_call(hotline, result.uniqueid or "")
    assert call.caller_withheld
    assert call.caller_number is None


async def test_without_fastagi_the_caller_still_reaches_the_default_queue(hotline: Hotline) -> None:
    assert hotline.ami is not None
    await hotline.stop_agi()
    try:
        result = await place_test_call(hotline.ami, "19524", caller="+48600333444")
    finally:
        await hotline.start_agi()
    # Asserted through AMI: the caller joined the default queue after the dialplan's fallback.
    assert result.answered
    assert result.fallback
    assert result.queue == QUEUES.default
    call = await stored_call(hotline, result.uniqueid or "")
    assert call.outcome == "fallback_queue"
    assert call.caller_number == "+48600333444"
    assert call.ended_at is not None


async def test_a_second_call_links_to_the_callers_first(hotline: Hotline) -> None:
    assert hotline.ami is not None
    first = await place_test_call(hotline.ami, "19524", ["1", "0"], caller="+48600555666")
    second = await place_test_call(hotline.ami, "19524", caller="+48600555666")
    first_call = await stored_call(hotline, first.uniqueid or "")
    second_call = await stored_call(hotline, second.uniqueid or "")
    assert second_call.previous_call_id == first_call.id


async def test_live_state_follows_the_call_in_redis(hotline: Hotline) -> None:
    """The wallboard's source: a snapshot of calls in the hotline plus the ordered changes."""
    assert hotline.ami is not None and hotline.live is not None
    live = hotline.live
    position, _ = await live.snapshot()
    result = await place_test_call(hotline.ami, "19524", ["1", "0"], caller="+48600777888", hang_up=False)
    assert result.queue == "consultant"
    uniqueid = result.uniqueid or ""

    async def queued_in_snapshot() -> dict[str, object] | None:
        _, calls = await live.snapshot()
        state = calls.get(uniqueid)
        return state if state and state.get("state") == "queued" else None

    state = await eventually(queued_in_snapshot, what="the queued call in the live snapshot")
    assert state["caller"] == "+48600777888" and state["queue"] == "consultant"

    await hotline.ami.send(actions.Hangup(channel=result.events[0].channel))

    async def ended() -> list[str] | None:
        kinds = [e["kind"] for _, e in await live.changes(position) if e["uniqueid"] == uniqueid]
        return kinds if kinds and kinds[-1] == "ended" else None

    kinds = await eventually(ended, what="the call's end in the live stream")
    # The IVR reports the caller's progress through the menu between the answer and the queue.
    assert [kind for kind in kinds if kind != "menu"] == ["entered", "answered", "queued", "ended"]
    assert kinds.index("queued") > max(i for i, kind in enumerate(kinds) if kind == "menu")
    progress = [
        e for _, e in await live.changes(position) if e["uniqueid"] == uniqueid and e["kind"] == "menu"
    ]
    assert [e["node"] for e in progress if "node" in e][:2] == ["welcome", "main"]
    assert progress[-1]["language"] == "pl" and progress[-1]["topic"] == "general"
    _, calls = await live.snapshot()
    assert uniqueid not in calls


async def test_callers_in_the_menu_are_in_the_live_snapshot(hotline: Hotline) -> None:
    """A wallboard shows who is in the menu now, and where."""
    assert hotline.ami is not None and hotline.live is not None
    result = await place_test_call(
        hotline.ami, "19524", ["2"], caller="+48600777999", hang_up=False, until="settled"
    )
    uniqueid = result.uniqueid or ""

    async def in_main_menu() -> dict[str, object] | None:
        _, calls = await hotline.live.snapshot()  # type: ignore[union-attr]
        state = calls.get(uniqueid)
        return state if state and state.get("node") == "main" else None

    state = await eventually(in_main_menu, what="the caller in the main menu in the live snapshot")
    assert state["state"] == "menu" and state["language"] == "uk"
    await hotline.ami.send(actions.Hangup(channel=result.events[0].channel))


async def test_the_listener_gets_no_events_it_does_not_use(hotline: Hotline) -> None:
    """Asterisk filters the listener's AMI session: no dialplan steps or AGI commands cross the wire."""
    assert hotline.ami is not None and hotline.listener_ami is not None
    seen = hotline.listener_ami.subscribe()
    try:
        result = await place_test_call(hotline.ami, "19524", ["1", "0"], caller="+48600999000")
        assert result.queue == "consultant"
        await stored_call(hotline, result.uniqueid or "")
    finally:
        hotline.listener_ami.unsubscribe(seen)
    names = {seen.get_nowait().name for _ in range(seen.qsize())}
    assert {"Hangup", "QueueCallerJoin", "UserEvent"} <= names
    assert not names & {"Newexten", "AGIExecStart", "AGIExecEnd"}
