"""Call records: one row per call into the hotline. What happens to a call is written in batches by
:mod:`hotline.call_recorder`; here are the reads the IVR needs and the call-back requests, written at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.db.engine import insert_for
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


async def recent_topic(
    sessions: Sessions, caller_e164: str, *, exclude_uniqueid: str, within: timedelta, now: datetime
) -> str | None:
    """The topic of this number's most recent call with a topic, if it was within ``within`` of ``now``."""
    async with sessions() as session:
        return await session.scalar(
            select(Call.topic)
            .where(
                Call.caller_number == caller_e164,
                Call.uniqueid != exclude_uniqueid,
                Call.topic.is_not(None),
                Call.started_at >= now - within,
            )
            .order_by(Call.started_at.desc(), Call.id.desc())
            .limit(1)
        )


async def request_callback(
    sessions: Sessions, *, number: str, topic: str, consent: bool, uniqueid: str | None
) -> bool:
    """Store a callback request; one pending request per number and topic. Returns False for a duplicate.

    It points to the call it was made in (by ``uniqueid``), when that call's record is stored."""
    key = f"{number}|{topic}"
    async with sessions() as session:
        insert = insert_for(session.get_bind().dialect.name)
        result = await session.execute(
            insert(CallbackRequest)
            .values(
                number=number,
                topic=topic,
                consent=consent,
                call_id=select(Call.id).where(Call.uniqueid == uniqueid).scalar_subquery(),
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
