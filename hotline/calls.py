"""Call records: one row per call into the hotline, written by the FastAGI side and the AMI listener alike.

Both sides may see a call first, so every write is idempotent: the row is created with INSERT … ON CONFLICT
DO NOTHING on the Asterisk uniqueid, and times are only ever filled in once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.db.models import Call, CallbackRequest, utcnow
from hotline.phone import CallerNumber

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class NewCall:
    uniqueid: str
    caller: CallerNumber
    linkedid: str | None = None
    channel: str | None = None
    dialed: str | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None


async def open_call(sessions: Sessions, call: NewCall) -> int:
    """Create the call's row if it does not exist yet; return its id. Links it to the caller's last call."""
    values = {
        "uniqueid": call.uniqueid,
        "linkedid": call.linkedid,
        "channel": call.channel,
        "dialed": call.dialed,
        "caller_number": call.caller.e164,
        "caller_withheld": call.caller.withheld,
        "caller_raw": call.caller.raw,
        "started_at": call.started_at or utcnow(),
        "answered_at": call.answered_at,
    }
    async with sessions() as session:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await session.execute(
            insert(Call).values(**values).on_conflict_do_nothing(index_elements=["uniqueid"])
        )
        row = (await session.execute(select(Call).where(Call.uniqueid == call.uniqueid))).scalar_one()
        if row.answered_at is None and call.answered_at is not None:
            row.answered_at = call.answered_at
        if row.previous_call_id is None and row.caller_number is not None:
            previous = await session.scalar(
                select(Call.id)
                .where(
                    Call.caller_number == row.caller_number,
                    Call.id != row.id,
                    Call.started_at <= row.started_at,
                )
                .order_by(Call.started_at.desc(), Call.id.desc())
                .limit(1)
            )
            row.previous_call_id = previous
        await session.commit()
        return row.id


async def mark_answered(sessions: Sessions, uniqueid: str, at: datetime | None = None) -> None:
    async with sessions() as session:
        await session.execute(
            update(Call)
            .where(Call.uniqueid == uniqueid, Call.answered_at.is_(None))
            .values(answered_at=at or utcnow())
        )
        await session.commit()


async def mark_queued(sessions: Sessions, uniqueid: str, queue: str) -> None:
    async with sessions() as session:
        await session.execute(update(Call).where(Call.uniqueid == uniqueid).values(queue=queue))
        await session.execute(
            update(Call).where(Call.uniqueid == uniqueid, Call.outcome.is_(None)).values(outcome="queued")
        )
        await session.commit()


async def close_call(
    sessions: Sessions, uniqueid: str, *, cause: int | None, at: datetime | None = None
) -> bool:
    """Record the hang-up. Returns False when no such call is stored (not a hotline call)."""
    async with sessions() as session:
        result = await session.execute(
            update(Call)
            .where(Call.uniqueid == uniqueid, Call.ended_at.is_(None))
            .values(ended_at=at or utcnow(), hangup_cause=cause)
        )
        # A call that ended before the IVR or the dialplan said anything about it was abandoned in the menu.
        await session.execute(
            update(Call)
            .where(Call.uniqueid == uniqueid, Call.outcome.is_(None))
            .values(outcome="hung_up_in_menu")
        )
        await session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_fields(sessions: Sessions, uniqueid: str, **values: object) -> None:
    async with sessions() as session:
        await session.execute(update(Call).where(Call.uniqueid == uniqueid).values(**values))
        await session.commit()


async def recent_topic(
    sessions: Sessions, caller_e164: str, *, exclude_call_id: int, within: timedelta, now: datetime
) -> str | None:
    """The topic of this number's most recent call with a topic, if it was within ``within`` of ``now``."""
    async with sessions() as session:
        return await session.scalar(
            select(Call.topic)
            .where(
                Call.caller_number == caller_e164,
                Call.id != exclude_call_id,
                Call.topic.is_not(None),
                Call.started_at >= now - within,
            )
            .order_by(Call.started_at.desc(), Call.id.desc())
            .limit(1)
        )


async def request_callback(
    sessions: Sessions, *, number: str, topic: str, consent: bool, call_id: int | None
) -> bool:
    """Store a callback request; one pending request per number and topic. Returns False for a duplicate."""
    key = f"{number}|{topic}"
    async with sessions() as session:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        result = await session.execute(
            insert(CallbackRequest)
            .values(
                number=number,
                topic=topic,
                consent=consent,
                call_id=call_id,
                status="pending",
                pending_key=key,
                requested_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["pending_key"])
        )
        await session.commit()
        created = bool(result.rowcount)  # type: ignore[attr-defined]
    if not created:
        log.info("callback request for %s about %s already pending", number, topic)
    return created
