"""The AMI listener and the live state, replaying a trace recorded from the real Asterisk 22.

``traces/two_calls.jsonl`` holds the AMI frames of two real calls, in arrival order, as the hotline's AMI
session received them: a caller who chose Polish and a consultant (queued by the IVR), and a withheld caller
while the FastAGI server was down (queued by the dialplan's fallback), each with the synthetic caller's own
leg. Replayed through the real parser, the real call recorder (on the test database) and the real live
state (on Redis), the records and the live picture must come out as they did on the live system.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami_listener import CallEventListener
from hotline.ami import AmiEvent, parse_event
from hotline.call_recorder import CallRecorder
from hotline.db.models import Call
from hotline.live import LiveState
from hotline.settings import Settings

TRACE = Path(__file__).parent / "traces" / "two_calls.jsonl"
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS", "redis://127.0.0.1:6379/0")
QUEUED_CALL = "1796015575.1"
FALLBACK_CALL = "1796015580.3"


def trace_frames() -> list[dict[str, str]]:
    return [json.loads(line) for line in TRACE.read_text(encoding="utf-8").splitlines()]


class TraceSource:
    """The listener's event source, fed by the test instead of Asterisk."""

    def __init__(self) -> None:
        self.queues: list[asyncio.Queue[AmiEvent]] = []

    def subscribe(self, maxsize: int = 0) -> asyncio.Queue[AmiEvent]:
        queue: asyncio.Queue[AmiEvent] = asyncio.Queue(maxsize)
        self.queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[AmiEvent]) -> None:
        self.queues.remove(queue)


@pytest.fixture
def fresh_ids() -> Iterator[dict[str, str]]:
    """The trace's uniqueids made unique per test (the database is shared by the session)."""
    yield {uid: f"{uid}-{uuid.uuid4().hex[:6]}" for uid in (QUEUED_CALL, FALLBACK_CALL)}


def replayed(frames: list[dict[str, str]], ids: dict[str, str]) -> list[AmiEvent]:
    events = []
    for frame in frames:
        frame = {key: ids.get(value, value) for key, value in frame.items()}
        event = parse_event(frame)
        if event is not None:
            events.append(event)
    return events


async def stored(sessions: async_sessionmaker[AsyncSession], uniqueid: str) -> Call:
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.uniqueid == uniqueid))
    assert call is not None, uniqueid
    return call


async def test_the_trace_gives_each_call_its_record_and_live_story(
    recorder: CallRecorder,
    live: LiveState,
    db_sessions: async_sessionmaker[AsyncSession],
    fresh_ids: dict[str, str],
) -> None:
    listener = CallEventListener(TraceSource(), recorder, Settings(), live)
    position, _ = await live.snapshot()
    events = replayed(trace_frames(), fresh_ids)
    queued, fallback = fresh_ids[QUEUED_CALL], fresh_ids[FALLBACK_CALL]

    # Up to the first call's queue join: it is in the live picture, queued.
    join = next(i for i, e in enumerate(events) if e.name == "QueueCallerJoin" and e.uniqueid == queued)
    for event in events[: join + 1]:
        listener.apply(event)
    await live.writer.drain()
    _, now = await live.snapshot()
    assert now[queued]["state"] == "queued" and now[queued]["queue"] == "consultant"
    assert now[queued]["caller"] == "+48600100200"

    for event in events[join + 1 :]:
        listener.apply(event)
    await recorder.drain()
    await live.writer.drain()

    first = await stored(db_sessions, queued)
    assert first.caller_number == "+48600100200" and not first.caller_withheld
    assert first.queue == "consultant" and first.outcome == "queued"
    assert first.answered_at is not None and first.ended_at is not None and first.hangup_cause == 0
    second = await stored(db_sessions, fallback)
    assert second.caller_withheld and second.caller_number is None
    assert second.queue == "consultant" and second.outcome == "fallback_queue"
    # The synthetic caller's own legs (context hotline-testcall) are not calls into the hotline.
    async with db_sessions() as session:
        legs = await session.scalars(select(Call.uniqueid).where(Call.uniqueid.like("testcall-%")))
        assert list(legs) == []

    # The live stream tells each call's story in the order it happened; nothing is left in the picture.
    story: dict[str, list[str]] = {queued: [], fallback: []}
    for _, change in await live.changes(position):
        story[change["uniqueid"]].append(change["kind"])
    assert story[queued] == ["entered", "answered", "queued", "ended"]
    assert story[fallback] == ["entered", "answered", "fallback", "queued", "ended"]
    _, now = await live.snapshot()
    assert queued not in now and fallback not in now


@pytest.mark.parametrize(
    "garbage",
    [
        {"Event": "Hangup", "Channel": "PJSIP/x"},  # no uniqueid
        {"Event": "Newexten", "Uniqueid": "1796015575.1", "Priority": "first"},  # priority not a number
        {"Event": "Newstate", "Uniqueid": "1796015575.1", "ChannelState": "up"},
        {"Event": "QueueCallerJoin", "Uniqueid": "1796015575.1", "Position": "-"},
        {"Event": "Hangup", "Uniqueid": "1700000000.9", "Cause": "x", "Linkedid": "1796015575.1"},
        {"Event": "NoSuchEvent", "Uniqueid": "1796015575.1"},
        {"Event": "UserEvent", "Uniqueid": "1796015575.1", "UserEvent": "HotlineSomethingNew"},
        {},
    ],
)
async def test_a_garbage_frame_among_good_ones_loses_nothing(
    recorder: CallRecorder,
    db_sessions: async_sessionmaker[AsyncSession],
    fresh_ids: dict[str, str],
    garbage: dict[str, str],
) -> None:
    frames = trace_frames()
    # The garbage arrives in the middle of the first call, before its queue join.
    at = next(i for i, f in enumerate(frames) if f.get("Event") == "QueueCallerJoin")
    frames.insert(at, garbage)
    listener = CallEventListener(TraceSource(), recorder, Settings())
    for event in replayed(frames, fresh_ids):
        listener.apply(event)
    await recorder.drain()
    call = await stored(db_sessions, fresh_ids[QUEUED_CALL])
    assert call.queue == "consultant" and call.ended_at is not None


async def test_the_listener_task_survives_an_event_it_cannot_apply(
    recorder: CallRecorder,
    db_sessions: async_sessionmaker[AsyncSession],
    fresh_ids: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Exploding(CallRecorder):
        def answered(self, uniqueid: str, at: Any = None) -> None:
            raise RuntimeError("a shape nobody foresaw")

    source = TraceSource()
    exploding = Exploding(recorder.engine)
    exploding.writer = recorder.writer  # write through the started writer
    listener = CallEventListener(source, exploding, Settings())
    await listener.start()
    try:
        with caplog.at_level(logging.ERROR, logger="ami_listener"):
            for event in replayed(trace_frames(), fresh_ids):
                source.queues[0].put_nowait(event)
            await asyncio.wait_for(source.queues[0].join(), 10)  # every event taken and applied
            await recorder.drain()
    finally:
        await listener.close()
    call = await stored(db_sessions, fresh_ids[FALLBACK_CALL])
    assert call.outcome == "fallback_queue" and call.ended_at is not None
    assert any("could not apply AMI event Newstate" in r.getMessage() for r in caplog.records)


async def test_a_late_change_of_an_ended_call_does_not_bring_it_back(live: LiveState) -> None:
    live.call_changed("entered", "c1", caller="+48600100200")
    live.call_changed("ended", "c1", cause=16)
    live.call_changed("menu", "c1", node="main")  # the IVR's last step, reported after the hang-up
    await live.writer.drain()
    _, now = await live.snapshot()
    assert "c1" not in now


async def test_the_ivr_progress_updates_the_callers_state(live: LiveState) -> None:
    live.call_changed("entered", "c2", caller="+48600100200")
    live.call_changed("menu", "c2", node="welcome")
    live.call_changed("menu", "c2", node="main", language="uk")
    await live.writer.drain()
    _, now = await live.snapshot()
    assert now["c2"]["state"] == "menu" and now["c2"]["node"] == "main" and now["c2"]["language"] == "uk"
    assert now["c2"]["caller"] == "+48600100200"


async def test_without_redis_changes_are_dropped_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    live = LiveState("redis://127.0.0.1:1/0", prefix="hotline-nowhere")
    with caplog.at_level(logging.WARNING, logger="hotline.live"):
        assert not await live.ping()
        live.start()
        live.call_changed("entered", "c3")
        await live.writer.drain()
        await live.close()
    assert any("Redis" in r.getMessage() for r in caplog.records)
