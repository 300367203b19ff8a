"""Calls, steps and callback requests written straight into the test database."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.db import Call, CallbackRequest, CallStep

_counter = 0


def unique_mobile() -> str:
    """A Polish mobile number no other test uses (+48 69x xxx xxx)."""
    return f"+4869{random.randrange(10_000_000):07d}"


async def add_call(
    sessions: async_sessionmaker[AsyncSession],
    started_at: datetime,
    *,
    caller_number: str | None = None,
    withheld: bool = False,
    seconds: float | None = 185,
    answered_after: float | None = None,
    language: str | None = "pl",
    topic: str | None = "general",
    outcome: str | None = "queued",
    queue: str | None = None,
    steps: list[tuple[float, str, str | None]] | None = None,
) -> Call:
    """``steps``: (seconds after the start, node, key)."""
    global _counter
    _counter += 1
    call = Call(
        uniqueid=f"test-{random.randrange(10**12)}.{_counter}",
        caller_number=None if withheld else caller_number,
        caller_withheld=withheld,
        caller_raw="anonymous" if withheld else caller_number,
        started_at=started_at,
        answered_at=None if answered_after is None else started_at + timedelta(seconds=answered_after),
        ended_at=None if seconds is None else started_at + timedelta(seconds=seconds),
        language=language,
        topic=topic,
        outcome=outcome,
        queue=queue,
        dialed="19524",
    )
    for offset, node, key in steps or []:
        call.steps.append(CallStep(at=started_at + timedelta(seconds=offset), node=node, key=key))
    async with sessions() as db, db.begin():
        db.add(call)
    return call


async def add_callback(
    sessions: async_sessionmaker[AsyncSession],
    number: str,
    requested_at: datetime,
    *,
    status: str = "pending",
    topic: str = "general",
    call_id: int | None = None,
) -> CallbackRequest:
    request = CallbackRequest(
        number=number,
        topic=topic,
        consent=True,
        requested_at=requested_at,
        status=status,
        call_id=call_id,
        pending_key=f"{number}|{topic}" if status == "pending" else None,
    )
    async with sessions() as db, db.begin():
        db.add(request)
    return request
