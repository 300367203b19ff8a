"""Call-back requests and attempts in the database (SQLite or PostgreSQL): one active per number and topic,
attempts counted, retried, failed after the last, and an attempt that was dialled never tried again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from hotline.callbacks import CallbackStore, placeholder_originate
from hotline.db import CallbackRequest, create_engine, session_factory

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[CallbackStore]:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    yield CallbackStore(sessions, now=Clock())
    # The session's database is shared with the end-to-end tests, whose dialler would call these back.
    async with sessions() as session, session.begin():
        await session.execute(delete(CallbackRequest).where(CallbackRequest.kind == "in_queue"))
    await engine.dispose()


def number() -> str:
    return "+48600" + str(uuid.uuid4().int)[:6]


async def book(store: CallbackStore, caller: str, position: int | None = 2) -> int | None:
    return await store.book_in_queue(
        uuid.uuid4().hex, number=caller, topic="jobs", language="uk", queue="jobs-uk", position=position
    )


async def test_a_second_request_for_the_same_number_and_topic_is_not_stored(store: CallbackStore) -> None:
    caller = number()
    first = await book(store, caller)
    assert first is not None
    assert await book(store, caller) is None
    assert [r.id for r in await store.requests_for(caller)] == [first]


async def test_the_first_attempt_keeps_the_place_and_one_number_is_never_called_twice_at_once(
    store: CallbackStore,
) -> None:
    caller = number()
    request = await book(store, caller, position=3)
    assert request is not None
    placement = await store.start_attempt(request)
    assert placement is not None and placement.position == 3 and placement.channel_id == f"cb-{request}-1"
    assert await store.start_attempt(request) is None  # waiting already
    other_topic = await store.book_in_queue(
        "x" + uuid.uuid4().hex,
        number=caller,
        topic="training",
        language="pl",
        queue="training-pl",
        position=1,
    )
    assert other_topic is not None
    assert await store.start_attempt(other_topic) is None  # the same number has an attempt under way
    action = placeholder_originate(
        placement, whisper="/sounds/pl/callback_whisper_jobs", notice="", max_penalty=2, ring_seconds=30
    )
    assert (
        action.channel_id == placement.channel_id and action.other_channel_id == f"{placement.channel_id}-q"
    )
    assert action.variables["__HOTLINE_OUTBOUND_NUMBER"] == caller
    assert action.variables["HOTLINE_QUEUE_POSITION"] == "3"


async def test_an_unanswered_call_back_is_retried_later_at_the_end_then_fails(store: CallbackStore) -> None:
    caller = number()
    request = await book(store, caller)
    assert request is not None
    for attempt in (1, 2, 3):
        placement = await store.start_attempt(request)
        assert placement is not None and placement.attempt == attempt
        assert placement.position == (2 if attempt == 1 else None)
        await store.dialing(placement.channel_id, "PJSIP/c1001")
        status = await store.finished(
            placement.channel_id, "NOANSWER", max_attempts=3, retry_after=timedelta(minutes=10)
        )
        assert status == ("failed" if attempt == 3 else "pending")
        if attempt < 3:
            assert request not in [r.id for r in await store.due()]  # not before the spacing
            store.now.at += timedelta(minutes=10)  # type: ignore[attr-defined]
            assert request in [r.id for r in await store.due()]
    history = await store.history(request)
    assert [(a.attempt, a.result, a.consultant) for a in history] == [
        (1, "no_answer", "PJSIP/c1001"),
        (2, "no_answer", "PJSIP/c1001"),
        (3, "no_answer", "PJSIP/c1001"),
    ]
    assert await book(store, caller) is not None  # not active any more: a new request may be made


async def test_a_placeholder_lost_before_dialling_goes_back_in_turn_and_after_dialling_never(
    store: CallbackStore,
) -> None:
    caller = number()
    request = await book(store, caller)
    assert request is not None
    placement = await store.start_attempt(request)
    assert placement is not None
    assert await store.lost(placement.channel_id, max_attempts=3) == "pending"
    again = await store.start_attempt(request)
    assert again is not None
    await store.dialing(again.channel_id, None)
    assert await store.lost(again.channel_id, max_attempts=3) == "unknown"
    assert await store.start_attempt(request) is None
    assert await store.finished(again.channel_id, "ANSWER", max_attempts=3, retry_after=timedelta(0)) is None


async def test_garbage_channel_ids_change_nothing(store: CallbackStore) -> None:
    for garbage in ("", "cb-", "cb-1-1-q", "cb-x-1", "Local/hold@x", "cb-1-1; DROP TABLE"):
        assert await store.finished(garbage, "ANSWER", max_attempts=3, retry_after=timedelta(0)) is None
        assert await store.lost(garbage, max_attempts=3) is None
        await store.dialing(garbage, None)
