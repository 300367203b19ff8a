"""What the console reads from the database. Every function takes an open ``AsyncSession``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.db import Call, CallbackRequest, CallStep
from hotline.outcomes import ENDED_IN_MENU_OUTCOMES, QUEUED_OUTCOMES, CallOutcome

# The largest id a PostgreSQL integer column holds: a bigger id in a URL is simply "no such call".
MAX_ID = 2**31 - 1

# Outcomes of calls that reached a consultants' queue (including callers who hung up while waiting).
# Outcomes of calls that ended in the menu: their time in the menu runs until the end of the call.


async def recent_calls(db: AsyncSession, limit: int = 50) -> Sequence[Call]:
    result = await db.scalars(select(Call).order_by(Call.started_at.desc(), Call.id.desc()).limit(limit))
    return result.all()


async def calls_from(db: AsyncSession, number: str, limit: int = 100) -> Sequence[Call]:
    """The calls from one E.164 number, newest first; not those where the caller withheld it."""
    query = (
        select(Call)
        .where(Call.caller_number == number, Call.caller_withheld.is_(False))
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(limit)
    )
    return (await db.scalars(query)).all()


# Steps of a call shown on one page of its detail.
STEPS_PAGE = 100


@dataclass(frozen=True)
class CallDetail:
    call: Call
    # One page of the call's steps, from ``first`` (0-based), and how many there are in all.
    steps: Sequence[CallStep]
    first: int
    total_steps: int
    # The same caller's other calls, newest first; empty for a withheld number.
    history: Sequence[Call]


async def call_detail(
    db: AsyncSession, call_id: int, *, page: int = 1, history_limit: int = 50
) -> CallDetail | None:
    """A call with one page of its steps (``page`` from 1; a page past the end shows the last one)."""
    if not 0 < call_id <= MAX_ID:
        return None
    call = await db.get(Call, call_id)
    if call is None:
        return None
    total = (
        await db.scalar(select(func.count()).select_from(CallStep).where(CallStep.call_id == call_id)) or 0
    )
    last_page = max(1, -(-total // STEPS_PAGE))
    first = (min(max(page, 1), last_page) - 1) * STEPS_PAGE
    steps = (
        await db.scalars(
            select(CallStep)
            .where(CallStep.call_id == call_id)
            .order_by(CallStep.at, CallStep.id)
            .offset(first)
            .limit(STEPS_PAGE)
        )
    ).all()
    history: Sequence[Call] = ()
    if call.caller_number and not call.caller_withheld:
        history = (
            await db.scalars(
                select(Call)
                .where(
                    Call.caller_number == call.caller_number,
                    Call.caller_withheld.is_(False),
                    Call.id != call.id,
                )
                .order_by(Call.started_at.desc(), Call.id.desc())
                .limit(history_limit)
            )
        ).all()
    return CallDetail(call=call, steps=steps, first=first, total_steps=total, history=history)


@dataclass(frozen=True)
class DayFigures:
    day: date
    calls: int
    answered: int
    queued: int
    self_service: int
    hung_up_in_menu: int
    callbacks_pending: int
    # Seconds; None when no call of the day has left the menu yet.
    average_ivr_seconds: float | None


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day as a UTC-aware half-open range (23 or 25 hours long on DST change days)."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def day_figures(db: AsyncSession, day: date, tz: ZoneInfo) -> DayFigures:
    start, end = day_bounds(day, tz)
    in_day = (Call.started_at >= start, Call.started_at < end)
    counts = (
        await db.execute(
            select(
                func.count(Call.id),
                func.count(Call.answered_at),
                _count_if(Call.outcome.in_(sorted(QUEUED_OUTCOMES))),
                _count_if(Call.outcome == CallOutcome.SELF_SERVICE),
                _count_if(Call.outcome == CallOutcome.HUNG_UP_IN_MENU),
            ).where(*in_day)
        )
    ).one()
    callbacks_pending = await db.scalar(
        select(func.count(CallbackRequest.id)).where(CallbackRequest.status == "pending")
    )
    last_step = (
        select(CallStep.call_id, func.max(CallStep.at).label("last_at")).group_by(CallStep.call_id).subquery()
    )
    rows = (
        await db.execute(
            select(Call.started_at, Call.ended_at, Call.outcome, last_step.c.last_at)
            .outerjoin(last_step, last_step.c.call_id == Call.id)
            .where(*in_day, Call.outcome.is_not(None))
        )
    ).all()
    seconds = [s for s in (_ivr_seconds(*row) for row in rows) if s is not None]
    return DayFigures(
        day=day,
        calls=int(counts[0]),
        answered=int(counts[1]),
        queued=int(counts[2]),
        self_service=int(counts[3]),
        hung_up_in_menu=int(counts[4]),
        callbacks_pending=int(callbacks_pending or 0),
        average_ivr_seconds=sum(seconds) / len(seconds) if seconds else None,
    )


def _ivr_seconds(
    started_at: datetime, ended_at: datetime | None, outcome: str, last_step_at: datetime | None
) -> float | None:
    """Time in the menu: until the end for calls that ended there, until the last menu step otherwise."""
    left_menu = ended_at if outcome in ENDED_IN_MENU_OUTCOMES else last_step_at
    if left_menu is None:
        return None
    if left_menu.tzinfo is None:
        # max() over a SQLite column comes back as naive UTC text, without the column type's conversion.
        left_menu = left_menu.replace(tzinfo=started_at.tzinfo)
    return max(0.0, (left_menu - started_at).total_seconds())


async def pending_callbacks(db: AsyncSession, limit: int = 200) -> Sequence[CallbackRequest]:
    query = (
        select(CallbackRequest)
        .where(CallbackRequest.status == "pending")
        .order_by(CallbackRequest.requested_at, CallbackRequest.id)
        .limit(limit)
    )
    return (await db.scalars(query)).all()
