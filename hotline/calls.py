"""Call records: one row per call into the hotline. What happens to a call is written in batches by
:mod:`hotline.call_recorder`; here are the reads the IVR needs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.db.models import Call
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
