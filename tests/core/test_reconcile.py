"""Reconciliation from Asterisk's own record of the calls, on the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami_listener.reconcile import BadRecord, Reconciler, merge, parse_record
from hotline.call_recorder import CallRecorder
from hotline.calls import NewCall
from hotline.db.models import Call
from hotline.phone import normalise_caller

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def record(uniqueid: str, start: datetime, end: datetime, **extra: object) -> str:
    line = {
        "uniqueid": uniqueid,
        "linkedid": uniqueid,
        "start": start.timestamp(),
        "answer": (start + timedelta(seconds=0.2)).timestamp(),
        "end": end.timestamp(),
        "src": "+48600100200",
        "channel": "PJSIP/trunk-00000001",
        "dst": "consultant",
        "disposition": "ANSWERED",
        "hotline": "1",
        "hotline_outcome": "fallback_queue",
        "hotline_queue": "consultant",
        "hotline_language": "",
        "hotline_topic": "",
        **extra,
    }
    return json.dumps(line) + "\n"


async def stored(sessions: async_sessionmaker[AsyncSession], uniqueid: str) -> Call | None:
    async with sessions() as session:
        return await session.scalar(select(Call).where(Call.uniqueid == uniqueid))


def test_only_the_leg_into_the_hotline_is_a_call() -> None:
    assert parse_record(record("a", T0, T0, hotline="")) is None  # the test caller's own leg
    call = parse_record(record("b", T0, T0 + timedelta(seconds=64)))
    assert call is not None and call.ended_at - call.started_at == timedelta(seconds=64)
    assert call.ivr["outcome"] == "fallback_queue"


@pytest.mark.parametrize(
    "line",
    ["not json", "[1, 2]", json.dumps({"hotline": "1", "uniqueid": "x"}), record("x", T0, T0, answer="soon")],
)
def test_a_broken_line_is_refused_with_its_reason(line: str) -> None:
    with pytest.raises(BadRecord):
        parse_record(line)


def test_the_records_of_one_call_merge_into_one() -> None:
    first = parse_record(record("c", T0, T0 + timedelta(seconds=10), hotline_queue=""))
    second = parse_record(record("c", T0 + timedelta(seconds=10), T0 + timedelta(seconds=30)))
    assert first is not None and second is not None
    (call,) = merge([first, second])
    assert (call.started_at, call.ended_at) == (T0, T0 + timedelta(seconds=30))
    assert call.ivr["queue"] == "consultant"


async def test_a_call_nobody_recorded_is_added_and_a_late_one_gets_asterisks_times(
    recorder: CallRecorder,
    db_sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    missing, late = f"r-{uuid.uuid4().hex}", f"r-{uuid.uuid4().hex}"
    # The hotline saw the second call 77 s late (a frozen service) and took its own times.
    recorder.entered(NewCall(late, normalise_caller("+48600100200"), started_at=T0 + timedelta(seconds=77)))
    recorder.ended(late, 16, at=T0 + timedelta(seconds=77.006))
    await recorder.drain()
    cdr = tmp_path / "hotline-calls.json"
    cdr.write_text(
        record(missing, T0, T0 + timedelta(seconds=64))
        + "garbage that is no record\n"
        + record(late, T0, T0 + timedelta(seconds=64), hotline_outcome="queued", hotline_topic="jobs")
    )
    reconciler = Reconciler(cdr, tmp_path / "position.json", recorder, region="PL")

    with caplog.at_level(logging.WARNING, logger="ami_listener"):
        reading = await reconciler.run()

    assert (reading.calls, reading.rejected) == (2, 1)
    assert any("line 2" in r.getMessage() for r in caplog.records)
    for uniqueid in (missing, late):
        call = await stored(db_sessions, uniqueid)
        assert call is not None
        assert call.started_at == T0 and call.ended_at == T0 + timedelta(seconds=64)
        assert call.caller_number == "+48600100200"
    added = await stored(db_sessions, missing)
    assert added is not None and (added.outcome, added.queue) == ("fallback_queue", "consultant")
    known = await stored(db_sessions, late)
    assert known is not None and known.topic == "jobs"

    # Read again: nothing new. A line added later is read on its own, and a line Asterisk is still
    # writing waits for its end.
    assert (await reconciler.run()).lines == 0
    later = f"r-{uuid.uuid4().hex}"
    with cdr.open("a") as fh:
        fh.write(record(later, T0 + timedelta(minutes=5), T0 + timedelta(minutes=6)))
        fh.write('{"uniqueid": "half a li')
    reading = await reconciler.run()
    assert (reading.calls, reading.lines) == (1, 1)
    assert await stored(db_sessions, later) is not None


async def test_a_replaced_record_file_is_read_from_its_start(
    recorder: CallRecorder, db_sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    cdr = tmp_path / "hotline-calls.json"
    first = f"r-{uuid.uuid4().hex}"
    cdr.write_text(record(first, T0, T0 + timedelta(seconds=5)) * 3)
    reconciler = Reconciler(cdr, tmp_path / "position.json", recorder, region="PL")
    await reconciler.run()
    # Rotated: a new, shorter file under the same name.
    second = f"r-{uuid.uuid4().hex}"
    cdr.unlink()
    cdr.write_text(record(second, T0, T0 + timedelta(seconds=5)))
    assert (await reconciler.run()).calls == 1
    assert await stored(db_sessions, second) is not None


async def test_no_record_file_yet_is_no_error(recorder: CallRecorder, tmp_path: Path) -> None:
    reconciler = Reconciler(tmp_path / "missing.json", tmp_path / "position.json", recorder, region="PL")
    assert (await reconciler.run()).calls == 0


async def test_a_withheld_number_stays_withheld(
    recorder: CallRecorder, db_sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    uniqueid = f"r-{uuid.uuid4().hex}"
    cdr = tmp_path / "hotline-calls.json"
    cdr.write_text(record(uniqueid, T0, T0 + timedelta(seconds=9), hotline_pres="prohib_not_screened"))
    await Reconciler(cdr, tmp_path / "position.json", recorder, region="PL", keep_withheld=False).run()
    call = await stored(db_sessions, uniqueid)
    assert call is not None and call.caller_withheld and call.caller_number is None
