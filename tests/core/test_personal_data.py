"""Retention and the rights of a caller (RODO): ``hotline purge`` anonymises what is past its retention and
keeps the figures; ``hotline caller export|erase NUMBER`` shows everything held about a number, or removes
every trace of it. The clock is the test's: each test lives on days of its own, long ago, so that purging
never touches another test's calls."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.queries import day_figures
from hotline.db import Call, CallbackRequest, CallStep
from hotline.live import LiveState
from hotline.personal_data import Retention, erase_number, export_number, purge
from hotline.phone import NotAPhoneNumber
from hotline.settings import Settings
from tests.console.helpers import add_call, add_callback, unique_mobile

WARSAW = ZoneInfo("Europe/Warsaw")
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS", "redis://127.0.0.1:6379/0")
RETENTION = Retention.from_settings(
    Settings(call_retention_days=90, step_retention_days=30, callback_retention_days=60)
)
Sessions = async_sessionmaker[AsyncSession]


async def call_row(sessions: Sessions, call_id: int) -> Call:
    async with sessions() as db:
        call = await db.get(Call, call_id)
    assert call is not None
    return call


async def steps_of(sessions: Sessions, call_id: int) -> list[tuple[str, str | None]]:
    async with sessions() as db:
        rows = await db.execute(
            select(CallStep.node, CallStep.key).where(CallStep.call_id == call_id).order_by(CallStep.id)
        )
    return [(node, key) for node, key in rows]


async def callbacks_for(sessions: Sessions, number: str) -> list[CallbackRequest]:
    async with sessions() as db:
        return list((await db.scalars(select(CallbackRequest).where(CallbackRequest.number == number))).all())


PATH = [(1.0, "welcome", None), (4.0, "welcome", "1"), (5.0, "main", None), (9.0, "main", "0")]


async def test_purge_anonymises_old_calls_and_keeps_the_figures(db_sessions: Sessions) -> None:
    day = datetime(2019, 3, 6, 9, 0, tzinfo=UTC)
    number = unique_mobile()
    old = await add_call(
        db_sessions, day, caller_number=number, outcome="queued", queue="consultant", topic="jobs", steps=PATH
    )
    later = await add_call(db_sessions, day + timedelta(days=80), caller_number=number, steps=PATH)
    async with db_sessions() as db, db.begin():
        (await db.get(Call, later.id)).previous_call_id = old.id  # type: ignore[union-attr]
        (await db.get(Call, old.id)).channel = "PJSIP/trunk-00000001"  # type: ignore[union-attr]
    async with db_sessions() as db:
        figures_before = await day_figures(db, day.date(), WARSAW)

    # 95 days after the first call: it is past the call retention (90), the second is not.
    report = await purge(db_sessions, RETENTION, now=day + timedelta(days=95))

    first = await call_row(db_sessions, old.id)
    assert (first.caller_number, first.caller_raw, first.channel, first.previous_call_id) == (None,) * 4
    # What the figures read stays: outcome, topic, queue, times.
    assert (first.outcome, first.topic, first.queue) == ("queued", "jobs", "consultant")
    assert first.started_at == old.started_at and first.ended_at == old.ended_at
    second = await call_row(db_sessions, later.id)
    assert second.caller_number == number
    # Its link to an anonymised call would tell who made that call: gone too.
    assert second.previous_call_id is None
    # Steps past the step retention (30 days) go, except each call's last, which the time in the menu needs.
    assert await steps_of(db_sessions, old.id) == [("main", "0")]
    assert await steps_of(db_sessions, later.id) == [(node, key) for _, node, key in PATH]
    async with db_sessions() as db:
        figures_after = await day_figures(db, day.date(), WARSAW)
    assert figures_after == figures_before
    assert report.calls_anonymised >= 1 and report.steps_deleted >= 3

    # Idempotent: a second purge finds nothing more of these calls.
    await purge(db_sessions, RETENTION, now=day + timedelta(days=95))
    assert await steps_of(db_sessions, old.id) == [("main", "0")]


async def test_purge_deletes_done_callback_requests_past_retention_and_keeps_pending_ones(
    db_sessions: Sessions,
) -> None:
    day = datetime(2018, 5, 7, 19, 0, tzinfo=UTC)
    done, pending, recent = unique_mobile(), unique_mobile(), unique_mobile()
    await add_callback(db_sessions, done, day, status="done")
    await add_callback(db_sessions, pending, day, status="pending")
    await add_callback(db_sessions, recent, day + timedelta(days=30), status="cancelled")

    report = await purge(db_sessions, RETENTION, now=day + timedelta(days=61))

    assert await callbacks_for(db_sessions, done) == []
    assert len(await callbacks_for(db_sessions, pending)) == 1  # still to be called back
    assert len(await callbacks_for(db_sessions, recent)) == 1
    assert report.callbacks_deleted >= 1


async def test_export_holds_everything_about_a_number_in_any_typed_form(db_sessions: Sessions) -> None:
    day = datetime(2017, 2, 1, 8, 0, tzinfo=UTC)
    number = unique_mobile()
    other = unique_mobile()
    first = await add_call(db_sessions, day, caller_number=number, topic="jobs", steps=PATH)
    # A call whose caller ID the network sent in national form, unreadable at the time.
    raw_only = await add_call(db_sessions, day + timedelta(hours=1), caller_number=None)
    async with db_sessions() as db, db.begin():
        (await db.get(Call, raw_only.id)).caller_raw = number[3:]  # type: ignore[union-attr]
    await add_call(db_sessions, day + timedelta(hours=2), caller_number=other)
    await add_callback(db_sessions, number, day, status="pending", call_id=first.id)

    national = f"{number[3:6]} {number[6:9]} {number[9:]}"
    exported = json.loads(json.dumps(await export_number(db_sessions, national)))

    assert exported["number"] == number
    assert [call["id"] for call in exported["calls"]] == [first.id, raw_only.id]
    assert exported["calls"][0]["caller_number"] == number
    assert exported["calls"][0]["topic"] == "jobs"
    assert exported["calls"][0]["started_at"] == day.isoformat()
    assert [(s["node"], s["key"]) for s in exported["calls"][0]["steps"]] == [(n, k) for _, n, k in PATH]
    assert [(r["number"], r["status"], r["call_id"]) for r in exported["callback_requests"]] == [
        (number, "pending", first.id)
    ]
    assert other not in json.dumps(exported)


async def test_export_refuses_what_is_not_a_number(db_sessions: Sessions) -> None:
    with pytest.raises(NotAPhoneNumber):
        await export_number(db_sessions, "nobody")


async def test_erase_leaves_no_trace_of_the_number(db_sessions: Sessions, live: LiveState) -> None:
    day = datetime(2016, 9, 1, 10, 0, tzinfo=UTC)
    number, other = unique_mobile(), unique_mobile()
    first = await add_call(db_sessions, day, caller_number=number, steps=PATH)
    second = await add_call(db_sessions, day + timedelta(days=1), caller_number=number)
    raw_only = await add_call(db_sessions, day + timedelta(days=2), caller_number=None)
    others = await add_call(db_sessions, day + timedelta(days=3), caller_number=other)
    async with db_sessions() as db, db.begin():
        (await db.get(Call, second.id)).previous_call_id = first.id  # type: ignore[union-attr]
        (await db.get(Call, raw_only.id)).caller_raw = "0048" + number[3:]  # type: ignore[union-attr]
    await add_callback(db_sessions, number, day, status="pending", call_id=first.id)
    await add_callback(db_sessions, number, day - timedelta(days=9), status="done", topic="jobs")
    live.call_changed("entered", "erase.1", caller=number, withheld=False)
    await live.writer.drain()

    report = await erase_number(db_sessions, number, live=live)

    assert (report.calls, report.callback_requests, report.live_entries) == (3, 2, 2)
    for call_id in (first.id, second.id, raw_only.id):
        call = await call_row(db_sessions, call_id)
        assert (call.caller_number, call.caller_raw, call.channel, call.previous_call_id) == (None,) * 4
    # The figures' fields stay; the steps carry no number and stay with the anonymous call.
    assert (await call_row(db_sessions, first.id)).outcome == "queued"
    assert len(await steps_of(db_sessions, first.id)) == len(PATH)
    assert await callbacks_for(db_sessions, number) == []
    assert (await call_row(db_sessions, others.id)).caller_number == other
    exported = await export_number(db_sessions, number)
    assert exported["calls"] == [] and exported["callback_requests"] == []
    _, calls = await live.snapshot()
    assert "erase.1" not in calls
    assert all(event.get("caller") != number for _, event in await live.changes())


def test_retention_comes_from_the_settings() -> None:
    retention = Retention.from_settings(Settings())
    assert retention.calls == timedelta(days=Settings.call_retention_days)
    assert retention.steps == timedelta(days=Settings.step_retention_days)
    assert retention.callbacks == timedelta(days=Settings.callback_retention_days)
    with pytest.raises(ValueError, match="call_retention_days"):
        Settings(call_retention_days=0)


async def test_what_a_caller_said_is_exported_and_erased(db_sessions: Sessions) -> None:
    day = datetime(2019, 5, 8, 9, 0, tzinfo=UTC)
    number = unique_mobile()
    call = await add_call(db_sessions, day, caller_number=number, outcome="queued", steps=PATH)
    async with db_sessions() as db, db.begin():
        db.add(
            CallStep(
                call_id=call.id, at=day, node="main", key="said:4", heard="praca za granicą", confidence=0.9
            )
        )

    exported = await export_number(db_sessions, number)
    said = [step for step in exported["calls"][0]["steps"] if step["key"] == "said:4"]
    assert said == [
        {"at": said[0]["at"], "node": "main", "key": "said:4", "heard": "praca za granicą", "confidence": 0.9}
    ]
    json.dumps(exported)

    await erase_number(db_sessions, number)
    async with db_sessions() as db:
        step = await db.scalar(select(CallStep).where(CallStep.call_id == call.id, CallStep.key == "said:4"))
    assert step is not None and (step.heard, step.confidence) == (None, None)  # the step stays, like a key
