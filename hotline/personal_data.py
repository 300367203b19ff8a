"""Personal data (RODO): how long the records keep what identifies a caller, and a caller's rights.

- :func:`purge` (``hotline purge``): calls past ``call_retention_days`` are anonymised (their number, raw
  caller ID, channel and link to the caller's previous call are cleared; outcome, topic, queue and times stay,
  so the supervisor's figures stay right); menu steps past ``step_retention_days`` are deleted, except each
  call's last (the time in the menu is read from it); call-back requests past ``callback_retention_days``
  that are no longer pending are deleted; transfers' case cards past ``call_retention_days`` are deleted
  (a consultant's note may say anything about the caller).
- :func:`export_number` (``hotline caller export NUMBER``): everything held about a number (with its case
  cards and the metadata of its calls' recordings).
- :func:`erase_number` (``hotline caller erase NUMBER``): no trace of the number left in the database, in
  the live state or in the recordings of its calls (:mod:`hotline.recordings`; files deleted, rows marked).

Recordings have a retention of their own (``recording_retention_days``): :meth:`Recordings.purge
<hotline.recordings.Recordings.purge>`, which ``hotline purge`` runs too.

A number is matched as stored (E.164) and in the raw forms a network may have sent it in, for calls whose
caller ID could not be read at the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from hotline.callbacks import ACTIVE, placeholder_channels_of
from hotline.db.models import Call, CallbackRequest, CallStep, CaseCard, Recording
from hotline.live import LiveState
from hotline.phone import parse_typed
from hotline.recordings import Recordings
from hotline.settings import Settings

Sessions = async_sessionmaker[AsyncSession]
# Fields of a call that identify the caller: cleared when the call is anonymised or its number erased.
IDENTIFYING = {"caller_number": None, "caller_raw": None, "channel": None, "previous_call_id": None}


@dataclass(frozen=True)
class Retention:
    calls: timedelta
    steps: timedelta
    callbacks: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        return cls(
            calls=timedelta(days=settings.call_retention_days),
            steps=timedelta(days=settings.step_retention_days),
            callbacks=timedelta(days=settings.callback_retention_days),
        )


@dataclass(frozen=True)
class PurgeReport:
    calls_anonymised: int
    steps_deleted: int
    callbacks_deleted: int
    case_cards_deleted: int = 0


@dataclass(frozen=True)
class ErasureReport:
    calls: int
    callback_requests: int
    live_entries: int
    recordings: int = 0
    case_cards: int = 0


async def purge(sessions: Sessions, retention: Retention, *, now: datetime) -> PurgeReport:
    """Anonymise and delete what is past its retention at ``now``; idempotent."""
    calls_before = now - retention.calls
    steps_before = now - retention.steps
    old_calls = select(Call.id).where(Call.started_at < calls_before)
    later = aliased(CallStep)
    last_step_at = select(func.max(later.at)).where(later.call_id == CallStep.call_id).scalar_subquery()
    async with sessions() as db, db.begin():
        # Links from newer calls to anonymised ones would tell who made those: cleared first.
        await db.execute(
            update(Call)
            .where(Call.previous_call_id.in_(old_calls), Call.started_at >= calls_before)
            .values(previous_call_id=None)
        )
        anonymised = await db.execute(
            update(Call)
            .where(Call.started_at < calls_before, _identifies_someone())
            .values(**IDENTIFYING)
            .execution_options(synchronize_session=False)
        )
        steps = await db.execute(
            delete(CallStep)
            .where(CallStep.at < steps_before, CallStep.at < last_step_at)
            .execution_options(synchronize_session=False)
        )
        callbacks = await db.execute(
            delete(CallbackRequest)
            .where(
                CallbackRequest.requested_at < now - retention.callbacks,
                CallbackRequest.status.not_in(ACTIVE),
            )
            .execution_options(synchronize_session=False)
        )
        cards = await db.execute(
            delete(CaseCard)
            .where(CaseCard.created_at < calls_before)
            .execution_options(synchronize_session=False)
        )
    return PurgeReport(
        calls_anonymised=_count(anonymised),
        steps_deleted=_count(steps),
        callbacks_deleted=_count(callbacks),
        case_cards_deleted=_count(cards),
    )


def _identifies_someone() -> ColumnElement[bool]:
    return or_(*(getattr(Call, name).is_not(None) for name in IDENTIFYING))


def _count(result: Any) -> int:
    return max(0, int(getattr(result, "rowcount", 0) or 0))


def raw_forms(e164: str) -> list[str]:
    """The forms a network may send this number in as a caller ID: E.164, with 00, national, with a 0."""
    number = phonenumbers.parse(e164)
    national = phonenumbers.national_significant_number(number)
    country = str(number.country_code)
    return sorted({e164, e164[1:], f"00{country}{national}", national, f"0{national}"})


def _calls_of(e164: str) -> ColumnElement[bool]:
    return or_(Call.caller_number == e164, Call.caller_raw.in_(raw_forms(e164)))


async def export_number(sessions: Sessions, typed: str, region: str = "PL") -> dict[str, Any]:
    """Everything held about a number (typed in any form the console accepts), ready for ``json.dumps``.

    Raises :class:`hotline.phone.NotAPhoneNumber` when ``typed`` cannot be a number."""
    e164 = parse_typed(typed, region)
    async with sessions() as db:
        calls = (
            await db.scalars(select(Call).where(_calls_of(e164)).order_by(Call.started_at, Call.id))
        ).all()
        call_ids = [call.id for call in calls]
        steps = (
            await db.scalars(
                select(CallStep).where(CallStep.call_id.in_(call_ids)).order_by(CallStep.at, CallStep.id)
            )
        ).all()
        requests = (
            await db.scalars(
                select(CallbackRequest)
                .where(or_(CallbackRequest.number == e164, CallbackRequest.call_id.in_(call_ids)))
                .order_by(CallbackRequest.requested_at, CallbackRequest.id)
            )
        ).all()
        # A call-back's recordings and cards carry its placeholder's uniqueid, not a call's.
        placeholders = await placeholder_channels_of(db, e164)
        recordings = (
            await db.scalars(
                select(Recording)
                .where(
                    or_(
                        Recording.call_uniqueid.in_([call.uniqueid for call in calls] + placeholders),
                        Recording.call_id.in_(call_ids),
                    )
                )
                .order_by(Recording.started_at, Recording.id)
            )
        ).all()
        cards = (await db.scalars(_case_cards_of(calls, placeholders).order_by(CaseCard.id))).all()
    return {
        "number": e164,
        "calls": [_call(call, [s for s in steps if s.call_id == call.id]) for call in calls],
        "callback_requests": [_callback(request) for request in requests],
        # What is recorded of the calls with a consultant (the audio itself stays in Asterisk's spool).
        "recordings": [_recording(recording) for recording in recordings],
        "case_cards": [_case_card(card) for card in cards],
    }


def _recording(recording: Recording) -> dict[str, Any]:
    return {
        "id": recording.id,
        "call_uniqueid": recording.call_uniqueid,
        "queue": recording.queue,
        "started_at": _time(recording.started_at),
        "duration_seconds": recording.duration_seconds,
        "file": recording.path,
        "sha256": recording.sha256,
        "deleted_at": _time(recording.deleted_at),
        "deleted_reason": recording.deleted_reason,
    }


def _case_cards_of(calls: Sequence[Call], placeholders: Sequence[str] = ()) -> Any:
    """The transfers' case cards of these calls (by the call, or by its caller's channel) and of the
    call-backs whose placeholders' queue halves are ``placeholders``."""
    return select(CaseCard).where(
        or_(
            CaseCard.call_id.in_([call.id for call in calls]),
            CaseCard.caller_uniqueid.in_([call.uniqueid for call in calls] + list(placeholders)),
        )
    )


def _case_card(card: CaseCard) -> dict[str, Any]:
    return {
        "id": card.id,
        "call_id": card.call_id,
        "created_at": _time(card.created_at),
        "topic": card.topic,
        "language": card.language,
        "note": card.note,
        "target": card.target,
        "target_number": card.target_number,
        "mode": card.mode,
        "consultant": card.consultant_name,
    }


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _call(call: Call, steps: Sequence[CallStep]) -> dict[str, Any]:
    return {
        "id": call.id,
        "uniqueid": call.uniqueid,
        "caller_number": call.caller_number,
        "caller_withheld": call.caller_withheld,
        "caller_raw": call.caller_raw,
        "channel": call.channel,
        "dialed": call.dialed,
        "started_at": _time(call.started_at),
        "answered_at": _time(call.answered_at),
        "ended_at": _time(call.ended_at),
        "hangup_cause": call.hangup_cause,
        "language": call.language,
        "topic": call.topic,
        "queue": call.queue,
        "outcome": call.outcome,
        "previous_call_id": call.previous_call_id,
        "steps": [
            {"at": _time(step.at), "node": step.node, "key": step.key}
            | ({"heard": step.heard, "confidence": step.confidence} if step.heard is not None else {})
            for step in steps
        ],
    }


def _callback(request: CallbackRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "number": request.number,
        "topic": request.topic,
        "consent": request.consent,
        "requested_at": _time(request.requested_at),
        "status": request.status,
        "call_id": request.call_id,
    }


async def erase_number(
    sessions: Sessions,
    typed: str,
    region: str = "PL",
    *,
    live: LiveState | None = None,
    recordings: Recordings | None = None,
    now: datetime | None = None,
) -> ErasureReport:
    """Remove every trace of a number: its calls anonymised (the rows stay for the figures, without the
    number, raw caller ID, channel or links between them), its call-back requests deleted, (with
    ``live``) its calls and changes in the live state, and (with ``recordings``) the files of its calls'
    recordings, their rows marked erased at ``now``."""
    e164 = parse_typed(typed, region)
    async with sessions() as db:
        # The calls' uniqueids stay after the erasure: the recordings are found by them, first. A call-back's
        # carry its placeholder's, found through the requests, which the erasure deletes.
        found = (await db.execute(select(Call.uniqueid, Call.id).where(_calls_of(e164)))).all()
        placeholders = await placeholder_channels_of(db, e164)
    erased_recordings = 0
    if recordings is not None:
        erased_recordings = await recordings.erase_calls(
            [uniqueid for uniqueid, _ in found] + placeholders,
            call_ids=[call_id for _, call_id in found],
            now=now or recordings.now(),
        )
    async with sessions() as db, db.begin():
        calls = (await db.scalars(select(Call).where(_calls_of(e164)))).all()
        call_ids = [call.id for call in calls]
        # Transfers' case cards: the consultant's note and the path are about the caller.
        card_ids = list(
            (await db.scalars(_case_cards_of(calls, placeholders).with_only_columns(CaseCard.id))).all()
        )
        if card_ids:
            await db.execute(
                delete(CaseCard).where(CaseCard.id.in_(card_ids)).execution_options(synchronize_session=False)
            )
        if call_ids:
            await db.execute(
                update(Call).where(Call.previous_call_id.in_(call_ids)).values(previous_call_id=None)
            )
            await db.execute(
                update(Call)
                .where(Call.id.in_(call_ids))
                .values(**IDENTIFYING)
                .execution_options(synchronize_session=False)
            )
            # What the caller said at spoken questions (the step itself, like a key, stays).
            await db.execute(
                update(CallStep)
                .where(CallStep.call_id.in_(call_ids), CallStep.heard.is_not(None))
                .values(heard=None, confidence=None)
                .execution_options(synchronize_session=False)
            )
        callbacks = await db.execute(
            delete(CallbackRequest)
            .where(CallbackRequest.number == e164)
            .execution_options(synchronize_session=False)
        )
    live_entries = await live.erase_number(e164) if live is not None else 0
    return ErasureReport(
        calls=len(call_ids),
        callback_requests=_count(callbacks),
        live_entries=live_entries,
        recordings=erased_recordings,
        case_cards=len(card_ids),
    )
