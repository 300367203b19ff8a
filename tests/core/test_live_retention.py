"""The live state keeps callers' numbers only as long as it must: the stream is bounded in time (MINID from
``live_stream_hours``) as well as in length, ended calls leave the picture, calls whose hang-up was never
seen are dropped after the same time, and a number can be erased from both."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis

from hotline.live import LiveState

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS", "redis://127.0.0.1:6379/0")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def live(clock: Clock) -> AsyncIterator[LiveState]:
    live = LiveState(
        REDIS_URL, prefix=f"hotline-retention-{uuid.uuid4().hex[:8]}", stream_hours=24, clock=clock
    )
    if not await live.ping():
        pytest.skip("Redis does not answer at " + REDIS_URL)
    live.start()
    yield live
    await live.clear()
    await live.close()


async def server_ms(live: LiveState) -> int:
    async with redis.from_url(REDIS_URL) as client:
        seconds, micros = await client.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def until_server_passes(live: LiveState, ms: int) -> int:
    """Poll Redis's own clock (which numbers the stream) until it is past ``ms``; a deadline, not a sleep."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while (now := await server_ms(live)) <= ms:
        assert loop.time() < deadline, "Redis's clock did not move"
        await asyncio.sleep(0.002)
    return now


async def test_changes_older_than_the_limit_leave_the_stream(live: LiveState, clock: Clock) -> None:
    live.call_changed("entered", "old.1", caller="+48600100200", withheld=False)
    await live.writer.drain()
    [(old_id, _)] = await live.changes()
    old_ms = int(old_id.split("-")[0])
    later = await until_server_passes(live, old_ms)

    # A day and a moment later by the hotline's clock: the old change is past the limit, a new one is not.
    clock.now = datetime.fromtimestamp(later / 1000, UTC) + timedelta(hours=24)
    live.call_changed("entered", "new.1", caller="+48600300400", withheld=False)
    await live.writer.drain()
    assert [event["uniqueid"] for _, event in await live.changes()] == ["new.1"]


async def test_within_the_limit_nothing_is_trimmed(live: LiveState, clock: Clock) -> None:
    for n in range(3):
        live.call_changed("entered", f"call.{n}", caller=None, withheld=True)
    await live.writer.drain()
    clock.now += timedelta(hours=23)
    live.call_changed("ended", "call.0", cause=16)
    await live.writer.drain()
    assert len(await live.changes()) == 4


async def test_an_ended_call_leaves_the_picture(live: LiveState) -> None:
    live.call_changed("entered", "gone.1", caller="+48600100200", withheld=False)
    live.call_changed("answered", "gone.1")
    await live.writer.drain()
    assert "gone.1" in (await live.snapshot())[1]
    live.call_changed("ended", "gone.1", cause=16)
    live.call_changed("menu", "gone.1", node="main")  # the IVR's last word after the hang-up
    await live.writer.drain()
    assert "gone.1" not in (await live.snapshot())[1]


async def test_a_call_whose_hang_up_was_never_seen_is_dropped_after_the_limit(
    live: LiveState, clock: Clock
) -> None:
    live.call_changed("entered", "lost.1", caller="+48600100200", withheld=False)
    await live.writer.drain()
    clock.now += timedelta(hours=12)
    live.call_changed("entered", "recent.1", caller="+48600300400", withheld=False)
    await live.writer.drain()
    assert await live.forget_stale() == 0
    clock.now += timedelta(hours=12, minutes=1)
    assert await live.forget_stale() == 1
    assert set((await live.snapshot())[1]) == {"recent.1"}


async def test_erasing_a_number_removes_it_from_the_picture_and_the_stream(live: LiveState) -> None:
    live.call_changed("entered", "a.1", caller="+48600100200", withheld=False)
    live.call_changed("entered", "b.1", caller="+48600300400", withheld=False)
    live.call_changed("queued", "a.1", queue="consultant")
    await live.writer.drain()
    assert await live.erase_number("+48600100200") == 2  # the call in the picture, its entry in the stream
    _, calls = await live.snapshot()
    assert set(calls) == {"b.1"}
    events = [event for _, event in await live.changes()]
    assert all(event.get("caller") != "+48600100200" for event in events)
    assert [event["uniqueid"] for event in events] == ["b.1", "a.1"]
