"""Writes to the call records, in batches through one writer task: the AMI listener's and the IVR's.

Each change is something that happened to a call: it entered the hotline, was answered, went through the
menu (the IVR's journal: its path, language, topic and outcome), left a call-back request, joined a
queue, got an outcome from the
dialplan, ended. A batch is written in one transaction, kind by kind in the order a call lives (entered
before answered before the menu …), one executemany per kind: a call's changes arrive in that order, so
applying them by kind keeps each call's story. Both sides may report the same thing (the row is created by
whichever comes first), so every write is idempotent and times are filled in once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.dml import Insert, Update

from hotline.batching import BatchWriter
from hotline.calls import NewCall
from hotline.db.engine import insert_for
from hotline.db.models import Call, CallbackRequest, CallStep, utcnow
from hotline.outcomes import CallOutcome
from hotline.phone import mask

log = logging.getLogger(__name__)

Kind = Literal["entered", "answered", "menu", "callback", "queued", "outcome", "ended", "reconciled"]
ORDER: tuple[Kind, ...] = (
    "entered",
    "answered",
    "menu",
    "callback",
    "queued",
    "outcome",
    "ended",
    "reconciled",
)
# What Asterisk's own record of a call fills in where the hotline's record has nothing.
RECONCILED_FIELDS = ("outcome", "queue", "language", "topic")
CALLS: Table = Call.__table__  # type: ignore[assignment]
STEPS: Table = CallStep.__table__  # type: ignore[assignment]
CALLBACKS: Table = CallbackRequest.__table__  # type: ignore[assignment]
MENU_FIELDS = ("language", "topic", "queue", "outcome")
# Parameters that carry a phone number (personal data).
NUMBER_PARAMS = frozenset({"b_caller_number", "b_caller_raw", "b_link_number", "b_number", "b_pending_key"})


# A step of a call's path: (time, node, key), or with a spoken answer (time, node, key, heard, confidence).
MenuStep = tuple[datetime, str, str | None] | tuple[datetime, str, str | None, str | None, float | None]


@dataclass(frozen=True)
class Change:
    kind: Kind
    uniqueid: str
    params: dict[str, Any] = field(default_factory=dict)
    # "menu" only: the path through the menu, (time, node, key) in order.
    steps: tuple[MenuStep, ...] = ()

    def __str__(self) -> str:
        # For the log: phone numbers masked.
        params = {
            k: mask(v) if k in NUMBER_PARAMS and isinstance(v, str) else v for k, v in self.params.items()
        }
        return f"[{self.uniqueid}] {self.kind} {params}{f' {len(self.steps)} steps' if self.steps else ''}"


def entered_change(call: NewCall) -> Change:
    return Change(
        "entered",
        call.uniqueid,
        {
            "b_linkedid": call.linkedid,
            "b_channel": call.channel,
            "b_dialed": call.dialed,
            "b_caller_number": call.caller.e164,
            "b_caller_withheld": call.caller.withheld,
            "b_caller_raw": call.caller.raw,
            # Only a presented number links the call to the caller's previous one (a link gives it away).
            "b_link_number": call.caller.presented,
            "b_started_at": call.started_at or utcnow(),
            "b_answered_at": call.answered_at,
        },
    )


def is_transient(exc: BaseException) -> bool:
    """The database is unreachable or busy (worth waiting for), not refusing this change."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OSError, ConnectionError))


def _u() -> Any:
    return bindparam("b_uniqueid")


def _insert_call(dialect: str) -> Insert:
    c = CALLS.c
    previous = (
        select(c.id)
        .where(
            c.caller_number == bindparam("b_link_number"),
            c.caller_withheld.is_(False),
            c.started_at <= bindparam("b_started_at"),
        )
        .order_by(c.started_at.desc(), c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        insert_for(dialect)(CALLS)
        .values(
            uniqueid=_u(),
            linkedid=bindparam("b_linkedid"),
            channel=bindparam("b_channel"),
            dialed=bindparam("b_dialed"),
            caller_number=bindparam("b_caller_number"),
            caller_withheld=bindparam("b_caller_withheld"),
            caller_raw=bindparam("b_caller_raw"),
            started_at=bindparam("b_started_at"),
            answered_at=bindparam("b_answered_at"),
            previous_call_id=previous,
        )
        .on_conflict_do_nothing(index_elements=["uniqueid"])
    )


def _statements(kind: Kind, dialect: str) -> list[Update | Insert]:
    c = CALLS.c
    if kind == "entered":
        return [_insert_call(dialect)]
    if kind == "answered":
        return [
            update(CALLS)
            .where(c.uniqueid == _u(), c.answered_at.is_(None))
            .values(answered_at=bindparam("b_at"))
        ]
    if kind == "menu":
        # Steps first (attached to the call by its uniqueid), then what the IVR learnt; the IVR's outcome
        # is the last word on how the call left the menu.
        return [
            STEPS.insert().from_select(
                ["call_id", "at", "node", "key", "heard", "confidence"],
                select(
                    c.id,
                    bindparam("b_at", type_=STEPS.c.at.type),
                    bindparam("b_node", type_=STEPS.c.node.type),
                    bindparam("b_key", type_=STEPS.c.key.type),
                    bindparam("b_heard", type_=STEPS.c.heard.type),
                    bindparam("b_confidence", type_=STEPS.c.confidence.type),
                ).where(c.uniqueid == _u()),
            ),
            update(CALLS)
            .where(c.uniqueid == _u())
            .values(
                {
                    name: func.coalesce(bindparam(f"b_{name}", type_=c[name].type), c[name])
                    for name in MENU_FIELDS
                }
            ),
        ]
    if kind == "callback":
        # One pending request per number and topic: a second one while the first waits is not stored again.
        return [
            insert_for(dialect)(CALLBACKS)
            .values(
                number=bindparam("b_number"),
                topic=bindparam("b_topic"),
                consent=bindparam("b_consent"),
                call_id=select(c.id).where(c.uniqueid == _u()).scalar_subquery(),
                status="pending",
                pending_key=bindparam("b_pending_key"),
                requested_at=bindparam("b_at"),
            )
            .on_conflict_do_nothing(index_elements=["pending_key"])
        ]
    if kind == "queued":
        return [
            update(CALLS)
            .where(c.uniqueid == _u())
            .values(queue=bindparam("b_queue"), outcome=func.coalesce(c.outcome, CallOutcome.QUEUED.value))
        ]
    if kind == "outcome":
        return [update(CALLS).where(c.uniqueid == _u()).values(outcome=bindparam("b_outcome"))]
    if kind == "reconciled":
        # Asterisk's own record (its CDR) after an outage: the row if it is missing, Asterisk's times (the
        # true ones, whatever the hotline saw late or not at all), what the IVR decided where nothing is
        # known.
        return [
            _insert_call(dialect),
            update(CALLS)
            .where(c.uniqueid == _u())
            .values(
                started_at=bindparam("b_started_at"),
                answered_at=func.coalesce(
                    bindparam("b_answered_at", type_=c.answered_at.type), c.answered_at
                ),
                ended_at=bindparam("b_ended_at"),
                **{
                    name: func.coalesce(c[name], bindparam(f"b_r_{name}", type_=c[name].type))
                    for name in RECONCILED_FIELDS
                },
            ),
        ]
    # ended: the time and cause are filled once; a call that ended before the IVR or the dialplan said
    # anything about it was abandoned in the menu.
    return [
        update(CALLS)
        .where(c.uniqueid == _u(), c.ended_at.is_(None))
        .values(ended_at=bindparam("b_at"), hangup_cause=bindparam("b_cause")),
        update(CALLS)
        .where(c.uniqueid == _u(), c.outcome.is_(None))
        .values(outcome=CallOutcome.HUNG_UP_IN_MENU.value),
    ]


class CallRecorder:
    def __init__(self, engine: AsyncEngine, *, max_batch: int = 500) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        self._statements = {kind: _statements(kind, dialect) for kind in ORDER}
        self.writer: BatchWriter[Change] = BatchWriter(
            "call records", self._write, transient=is_transient, describe=str, max_batch=max_batch
        )

    def start(self) -> None:
        self.writer.start()

    async def close(self) -> None:
        await self.writer.close()

    async def drain(self) -> None:
        await self.writer.drain()

    def entered(self, call: NewCall) -> None:
        self.writer.put(entered_change(call))

    def answered(self, uniqueid: str, at: datetime | None = None) -> None:
        self.writer.put(Change("answered", uniqueid, {"b_at": at or utcnow()}))

    def menu(self, uniqueid: str, steps: Sequence[MenuStep], **fields: str | None) -> None:
        """The IVR's journal of a call: steps taken, and language, topic, queue, outcome where known."""
        unknown = set(fields) - set(MENU_FIELDS)
        if unknown:
            raise ValueError(f"not fields of the menu's record: {sorted(unknown)}")
        params = {f"b_{name}": fields.get(name) for name in MENU_FIELDS}
        self.writer.put(Change("menu", uniqueid, params, tuple(steps)))

    def callback_requested(
        self, uniqueid: str, *, number: str, topic: str, consent: bool, at: datetime | None = None
    ) -> None:
        """A call-back request made in this call (one pending request per number and topic)."""
        self.writer.put(
            Change(
                "callback",
                uniqueid,
                {
                    "b_number": number,
                    "b_topic": topic,
                    "b_consent": consent,
                    "b_pending_key": f"{number}|{topic}",
                    "b_at": at or utcnow(),
                },
            )
        )

    def queued(self, uniqueid: str, queue: str) -> None:
        self.writer.put(Change("queued", uniqueid, {"b_queue": queue}))

    def outcome(self, uniqueid: str, outcome: CallOutcome) -> None:
        self.writer.put(Change("outcome", uniqueid, {"b_outcome": CallOutcome(outcome).value}))

    def ended(self, uniqueid: str, cause: int | None, at: datetime | None = None) -> None:
        self.writer.put(Change("ended", uniqueid, {"b_at": at or utcnow(), "b_cause": cause}))

    def reconciled(self, call: NewCall, *, ended_at: datetime, **fields: str | None) -> None:
        """A call as Asterisk recorded it: ``call`` with Asterisk's start and answer times, its end, and
        ``outcome``, ``queue``, ``language``, ``topic`` where the IVR or the dialplan set them."""
        unknown = set(fields) - set(RECONCILED_FIELDS)
        if unknown:
            raise ValueError(f"not fields of Asterisk's record: {sorted(unknown)}")
        change = entered_change(call)
        params = {
            **change.params,
            "b_ended_at": ended_at,
            **{f"b_r_{name}": fields.get(name) for name in RECONCILED_FIELDS},
        }
        self.writer.put(Change("reconciled", call.uniqueid, params))

    async def _write(self, changes: Sequence[Change]) -> None:
        # Per kind, the parameter sets of each of its statements.
        per_kind: dict[Kind, tuple[list[dict[str, Any]], ...]] = {
            kind: tuple([] for _ in self._statements[kind]) for kind in ORDER
        }
        for change in changes:
            sets = per_kind[change.kind]
            if change.kind == "menu":
                sets[0].extend(_step_params(change.uniqueid, step) for step in change.steps)
                if any(value is not None for value in change.params.values()):
                    sets[1].append({"b_uniqueid": change.uniqueid, **change.params})
                continue
            for each in sets:
                each.append({"b_uniqueid": change.uniqueid, **change.params})
        async with self.engine.begin() as connection:
            for kind in ORDER:
                for statement, batch in zip(self._statements[kind], per_kind[kind], strict=True):
                    if batch:
                        await connection.execute(statement, batch)


def _step_params(uniqueid: str, step: MenuStep) -> dict[str, Any]:
    heard, confidence = (step[3], step[4]) if len(step) == 5 else (None, None)
    return {
        "b_uniqueid": uniqueid,
        "b_at": step[0],
        "b_node": step[1],
        "b_key": step[2],
        "b_heard": heard,
        "b_confidence": confidence,
    }
