"""The AMI listener's batched writes to the call records, on the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.call_recorder import CallRecorder, Change, entered_change
from hotline.calls import NewCall
from hotline.db.models import Call, CallbackRequest, CallStep, utcnow
from hotline.phone import normalise_caller


def new_call(number: str = "+48600100200", **kwargs: object) -> NewCall:
    return NewCall(
        uniqueid=f"test-{uuid.uuid4().hex}",
        caller=normalise_caller(number, "PL"),
        channel="PJSIP/loopback-00000001",
        dialed="19524",
        **kwargs,  # type: ignore[arg-type]
    )


async def stored(sessions: async_sessionmaker[AsyncSession], uniqueid: str) -> Call | None:
    async with sessions() as session:
        return await session.scalar(select(Call).where(Call.uniqueid == uniqueid))


async def test_a_whole_call_written_in_one_batch_keeps_its_story(
    recorder: CallRecorder, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    call = new_call()
    # Put before the writer can take any: all four changes form one batch.
    recorder.entered(call)
    recorder.answered(call.uniqueid)
    recorder.queued(call.uniqueid, "consultant")
    recorder.ended(call.uniqueid, 16)
    await recorder.drain()
    row = await stored(db_sessions, call.uniqueid)
    assert row is not None
    assert row.caller_number == "+48600100200" and row.dialed == "19524"
    assert row.answered_at is not None and row.ended_at is not None and row.hangup_cause == 16
    assert (row.queue, row.outcome) == ("consultant", "queued")


async def test_changes_across_batches_only_fill_what_is_empty(
    recorder: CallRecorder, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    call = new_call()
    first_answer = utcnow() - timedelta(seconds=5)
    recorder.entered(call)
    recorder.answered(call.uniqueid, at=first_answer)
    await recorder.drain()
    recorder.answered(call.uniqueid)
    recorder.outcome(call.uniqueid, "fallback_queue")
    await recorder.drain()
    recorder.queued(call.uniqueid, "consultant")
    recorder.ended(call.uniqueid, 16)
    await recorder.drain()
    recorder.ended(call.uniqueid, 127)
    await recorder.drain()
    row = await stored(db_sessions, call.uniqueid)
    assert row is not None
    assert row.answered_at == first_answer
    assert (row.queue, row.outcome, row.hangup_cause) == ("consultant", "fallback_queue", 16)


async def test_a_call_that_ends_with_no_outcome_was_abandoned_in_the_menu(
    recorder: CallRecorder, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    call = new_call()
    recorder.entered(call)
    recorder.ended(call.uniqueid, 16)
    await recorder.drain()
    row = await stored(db_sessions, call.uniqueid)
    assert row is not None and row.outcome == "hung_up_in_menu"


async def test_a_callers_calls_link_to_the_previous_one_in_and_across_batches(
    recorder: CallRecorder, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    number = f"+4860{uuid.uuid4().int % 10**7:07d}"
    first, second, third = new_call(number), new_call(number), new_call(number)
    withheld = new_call("anonymous")
    recorder.entered(first)
    recorder.entered(second)
    recorder.entered(withheld)
    await recorder.drain()
    recorder.entered(third)
    await recorder.drain()
    rows = [await stored(db_sessions, c.uniqueid) for c in (first, second, third, withheld)]
    assert all(rows)
    one, two, three, anonymous = rows
    assert one.previous_call_id is None  # type: ignore[union-attr]
    assert two.previous_call_id == one.id  # type: ignore[union-attr]
    assert three.previous_call_id == two.id  # type: ignore[union-attr]
    assert anonymous.caller_withheld and anonymous.previous_call_id is None  # type: ignore[union-attr]


async def test_a_change_the_database_refuses_is_dropped_alone(
    recorder: CallRecorder, db_sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    good, bad, after = new_call(), new_call(), new_call()
    recorder.entered(good)
    # A start time is required: the database refuses this row (NOT NULL), as it would any broken change.
    broken = Change("entered", bad.uniqueid, {**entered_change(bad).params, "b_started_at": None})
    recorder.writer.put(broken)
    recorder.entered(after)
    recorder.answered(after.uniqueid)
    await recorder.drain()
    assert await stored(db_sessions, good.uniqueid) is not None
    assert await stored(db_sessions, bad.uniqueid) is None
    row = await stored(db_sessions, after.uniqueid)
    assert row is not None and row.answered_at is not None
    assert recorder.writer.dropped == 1
    assert f"call records: dropped [{bad.uniqueid}] entered" in caplog.text


async def steps_of(sessions: async_sessionmaker[AsyncSession], call_id: int) -> list[tuple[str, str | None]]:
    async with sessions() as session:
        rows = await session.execute(
            select(CallStep.node, CallStep.key).where(CallStep.call_id == call_id).order_by(CallStep.id)
        )
        return [(node, key) for node, key in rows]


async def test_the_menu_journal_stores_the_path_and_has_the_last_word_on_the_outcome(
    recorder: CallRecorder, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    served, abandoned = new_call(), new_call()
    now = utcnow()
    for call in (served, abandoned):
        recorder.entered(call)
    # Served: the journal comes before the hang-up (same batch).
    recorder.menu(
        served.uniqueid,
        [(now, "welcome", None), (now, "welcome", "1"), (now, "jobs", None)],
        language="pl",
        topic="jobs",
        outcome="self_service",
    )
    recorder.ended(served.uniqueid, 16)
    # Abandoned: the hang-up is written first, the IVR's journal arrives in a later batch.
    recorder.ended(abandoned.uniqueid, 16)
    await recorder.drain()
    recorder.menu(abandoned.uniqueid, [(now, "welcome", None)], language="uk", outcome="hung_up_in_menu")
    recorder.menu(abandoned.uniqueid, [])  # nothing more to say: writes nothing
    await recorder.drain()

    row = await stored(db_sessions, served.uniqueid)
    assert row is not None
    assert (row.language, row.topic, row.queue, row.outcome) == ("pl", "jobs", None, "self_service")
    assert await steps_of(db_sessions, row.id) == [("welcome", None), ("welcome", "1"), ("jobs", None)]
    row = await stored(db_sessions, abandoned.uniqueid)
    assert row is not None
    assert (row.language, row.topic, row.outcome) == ("uk", None, "hung_up_in_menu")
    assert await steps_of(db_sessions, row.id) == [("welcome", None)]


def test_the_menu_journal_names_only_fields_of_the_record(recorder: CallRecorder) -> None:
    with pytest.raises(ValueError, match="caller_number"):
        recorder.menu("x", [], caller_number="+48600100200")


async def test_a_callback_request_goes_through_the_recorder_linked_to_its_call(
    recorder: CallRecorder, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    call = new_call("+48600200300")
    number = f"+48600{uuid.uuid4().int % 10**6:06d}"
    # The IVR hands the request over at once, in the same batch as the call's own record.
    recorder.entered(call)
    recorder.callback_requested(call.uniqueid, number=number, topic="jobs", consent=True)
    # A second request for the same number and topic while the first is pending is not stored again.
    recorder.callback_requested(call.uniqueid, number=number, topic="jobs", consent=True)
    recorder.callback_requested(call.uniqueid, number=number, topic="abroad", consent=True)
    await recorder.drain()
    row = await stored(db_sessions, call.uniqueid)
    assert row is not None
    async with db_sessions() as session:
        requests = list(
            await session.scalars(
                select(CallbackRequest).where(CallbackRequest.number == number).order_by(CallbackRequest.id)
            )
        )
    assert [(r.topic, r.status, r.consent, r.call_id) for r in requests] == [
        ("jobs", "pending", True, row.id),
        ("abroad", "pending", True, row.id),
    ]
