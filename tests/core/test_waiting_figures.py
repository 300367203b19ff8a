"""The live figures of the wait estimate: typed AMI events (tolerant of garbage), a queue's snapshot turned
into a caller's figures, and the handle times' rolling window in the real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from hotline.ami import AgentComplete, ChanSpyStart, QueueCallerJoin, QueueEntry, QueueMember, parse_event
from hotline.handle_times import HandleTimes
from hotline.wait_estimate import WiderStep
from ivr.waiting import CALLER_CHANNEL, QueueSnapshot, queue_figures
from tests.core.conftest import REDIS_URL
from tests.data import QUEUES


def member(**fields: str) -> QueueMember:
    frame = {"Event": "QueueMember", "Queue": "jobs", "StateInterface": "PJSIP/anna", "Status": "1"} | fields
    event = parse_event(frame)
    assert isinstance(event, QueueMember)
    return event


def entry(uniqueid: str, position: int, wait: int = 12) -> QueueEntry:
    frame = {"Event": "QueueEntry", "Queue": "jobs", "Position": str(position), "Uniqueid": uniqueid}
    event = parse_event(frame | {"Channel": f"PJSIP/loopback-0000000{position}", "Wait": str(wait)})
    assert isinstance(event, QueueEntry)
    return event


def test_queue_events_become_typed_values() -> None:
    join = parse_event(
        {"Event": "QueueCallerJoin", "Uniqueid": "1.1", "Queue": "jobs", "Position": "1", "Language": "uk"}
    )
    assert isinstance(join, QueueCallerJoin) and join.language == "uk"
    done = parse_event(
        {
            "Event": "AgentComplete",
            "Uniqueid": "1.1",
            "Queue": "jobs",
            "Interface": "PJSIP/anna",
            "TalkTime": "95",
        }
    )
    assert isinstance(done, AgentComplete) and done.talk_time == 95 and done.member == "PJSIP/anna"
    anna = member(Paused="1", InCall="0", LastCall="1764489600", Wrapuptime="30", Penalty="11")
    assert anna.paused and not anna.in_call and anna.last_call == 1764489600 and anna.wrapup_time == 30
    assert anna.penalty == 11 and member().penalty is None
    spy = parse_event(
        {
            "Event": "ChanSpyStart",
            "SpyerChannel": "Local/play@hotline-waiting-announce-00000000;1",
            "SpyerUniqueid": "2.1",
            "SpyeeChannel": "PJSIP/loopback-00000001",
            "SpyeeUniqueid": "1.1",
        }
    )
    assert isinstance(spy, ChanSpyStart) and spy.spyee_uniqueid == "1.1" and spy.uniqueid == "2.1"


@pytest.mark.parametrize(
    "frame",
    [
        {"Event": "QueueMember", "Queue": "jobs"},  # no interface
        {"Event": "QueueEntry", "Queue": "jobs", "Uniqueid": "1.1", "Position": "first"},
        {"Event": "QueueEntry", "Uniqueid": "1.1", "Position": "1"},  # no queue
        {"Event": "ChanSpyStart", "SpyerChannel": "Local/x;1"},
        {"Event": "AgentComplete", "Queue": "jobs"},  # no uniqueid
    ],
)
def test_garbage_queue_frames_are_dropped(frame: dict[str, str]) -> None:
    assert parse_event(frame) is None


def test_garbage_numbers_in_a_member_are_none_not_a_crash() -> None:
    odd = member(Status="lots", LastCall="yesterday", Wrapuptime="")
    assert odd.status is None and odd.last_call is None and odd.wrapup_time is None


NOW = 1_764_489_600.0


def test_figures_count_callers_ahead_and_consultants_serving_and_free() -> None:
    snapshot = QueueSnapshot(
        members=(
            member(StateInterface="PJSIP/anna", Status="1"),  # free
            member(StateInterface="PJSIP/bartek", Status="2", InCall="1"),  # on a call
            member(StateInterface="PJSIP/celina", Status="1", LastCall=str(int(NOW - 10))),  # in wrap-up
            member(StateInterface="PJSIP/dawid", Status="1", Paused="1"),  # on a break
            member(StateInterface="PJSIP/ewa", Status="5"),  # phone unavailable
        ),
        entries=(entry("1.1", 1), entry("1.2", 2), entry("1.3", 3)),
    )
    figures = queue_figures(snapshot, "1.3", (60.0,), now=NOW, default_wrapup_s=30)
    assert figures is not None
    assert (figures.ahead, figures.serving, figures.free, figures.handle_times) == (2, 3, 1, (60.0,))
    # Wrap-up over: celina is free too.
    later = queue_figures(snapshot, "1.3", (), now=NOW + 60, default_wrapup_s=30)
    assert later is not None and later.free == 2
    # A caller who is no longer in the queue has no figures.
    assert queue_figures(snapshot, "9.9", (), now=NOW, default_wrapup_s=0) is None


def test_with_routing_only_the_members_the_callers_step_reaches_serve_now() -> None:
    snapshot = QueueSnapshot(
        members=(
            member(StateInterface="PJSIP/anna", Status="2", InCall="1", Penalty="0"),  # topic, on a call
            member(StateInterface="PJSIP/bartek", Status="2", InCall="1", Penalty="1"),  # topic, on a call
            member(
                StateInterface="PJSIP/celina", Status="2", InCall="1", Penalty="11"
            ),  # language, on a call
            member(
                StateInterface="PJSIP/dawid", Status="1", Penalty="11", Paused="1"
            ),  # language, on a break
            member(StateInterface="PJSIP/ewa", Status="1", Penalty="20"),  # anyone, free
        ),
        entries=(entry("1.1", 1, wait=130), entry("1.2", 2, wait=50), entry("1.3", 3, wait=5)),
    )
    routing = QUEUES.routing  # topic at once, the language after 45 s, anyone after 120 s
    newest = queue_figures(snapshot, "1.3", (), now=NOW, default_wrapup_s=30, routing=routing)
    assert newest is not None
    # Ewa is free but 115 s away for this caller: nobody free for them now.
    assert (newest.ahead, newest.serving, newest.free) == (2, 2, 0)
    assert tuple(newest.wider) == (WiderStep(40, 1, 0), WiderStep(115, 1, 1))
    second = queue_figures(snapshot, "1.2", (), now=NOW, default_wrapup_s=30, routing=routing)
    assert second is not None and tuple(second.wider) == (WiderStep(-5, 1, 0), WiderStep(70, 1, 1))
    # Blind to routing (no steps given): everyone serving and free from the first second, as before.
    blind = queue_figures(snapshot, "1.3", (), now=NOW, default_wrapup_s=30)
    assert blind is not None and (blind.serving, blind.free, tuple(blind.wider)) == (4, 1, ())


@pytest.mark.parametrize(
    ("channel", "ok"),
    [
        ("PJSIP/loopback-00000001", True),
        ("PJSIP/trunk.carrier-0000abcd", True),
        ("PJSIP/loopback-00000001,qB", False),  # would add ChanSpy options
        ("PJSIP/loop back-00000001", False),
        ("Local/x@ctx-00000001;1", False),
        ("PJSIP/loopback-0000000g", False),
        ("PJSIP/loopback-00000001\n", False),
    ],
)
def test_only_a_strict_caller_channel_reaches_chanspy(channel: str, ok: bool) -> None:
    assert bool(CALLER_CHANNEL.fullmatch(channel)) is ok


@pytest.fixture
async def handle_times() -> AsyncIterator[HandleTimes]:
    store = HandleTimes(REDIS_URL, prefix=f"hotline-test-{uuid.uuid4().hex[:8]}", window=5)
    try:
        await store.recent("jobs")
    except Exception:
        pytest.skip("Redis does not answer at " + REDIS_URL)
    yield store
    await store.clear("jobs", "training")
    await store.close()


async def test_handle_times_are_a_rolling_window_that_survives_a_restart(handle_times: HandleTimes) -> None:
    for seconds in (100, 110, 120, 130, 140, 150, 160):
        await handle_times.add("jobs", seconds)
    await handle_times.add("jobs", float("nan"))  # garbage: ignored
    await handle_times.add("jobs", -3)
    assert await handle_times.recent("jobs") == (160, 150, 140, 130, 120)
    assert await handle_times.recent("training") == ()
    # Another process (a restarted service) reads the same window from Redis.
    again = HandleTimes(handle_times.url, prefix=handle_times.prefix, window=5)
    assert await again.recent("jobs") == (160, 150, 140, 130, 120)
    await again.close()


async def test_without_redis_the_window_is_kept_in_memory() -> None:
    store = HandleTimes("redis://127.0.0.1:1/0", prefix="hotline-nowhere")
    await store.add("jobs", 90)
    assert await store.recent("jobs") == (90,)
    await store.close()
