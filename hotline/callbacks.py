"""Call-backs that keep the caller's place: the requests, their attempts, and the placeholder that waits in
the caller's place in the queue.

A caller waiting in a queue presses the call-back key (``queues.yaml``'s ``callback_key``) and may hang up:
a *placeholder* (a Local channel, ``Local/hold@hotline-callback-hold``) enters the same Asterisk queue at the
caller's position and waits there as they would have. When a consultant takes it, the consultant hears a short
whisper ("call-back, topic X") and the dialplan itself (``[hotline-callback-connect]``) calls the caller back
over the outbound trunk, plays them the recording notice when they answer, and bridges them: no Python on that
path, so a restart of the hotline's service neither loses nor repeats it. For the consultant it is an inbound
caller's call: recorded (its recording's call is the placeholder's queue half, ``cb-<id>-<attempt>-q``,
:func:`placeholder_attempt`) and transferable with the phone's features.

The IVR's after-hours requests and the retries of unanswered call-backs get a placeholder at the end of
their queue, from the next opening, oldest first, only when a consultant is free (:mod:`ivr.callback_dialer`).

Every request and attempt is a row (``callback_requests``, ``callback_attempts``); a request is *active*
(``pending``, ``waiting``, ``dialing``) at most once per number and topic, and the dialer never runs two
attempts for one number at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.ami import actions
from hotline.clock import Clock, utc_now
from hotline.db import Call, CallbackAttempt, CallbackRequest

ACTIVE = ("pending", "waiting", "dialing")
HOLD_CONTEXT = "hotline-callback-hold"
CONNECT_CONTEXT = "hotline-callback-connect"
# The placeholder's channel id: "cb-<request id>-<attempt>"; its queue half is "<id>-q".
CHANNEL_ID = re.compile(r"^cb-([0-9]{1,12})-([0-9]{1,4})$")
QUEUE_HALF = re.compile(r"^(cb-[0-9]{1,12}-[0-9]{1,4})-q$")
# How long a placeholder may wait in its queue before Asterisk gives up on it (the request goes back to
# pending and is tried again at the end of the queue).
PLACEHOLDER_WAIT_S = 4 * 3600
# Asterisk's DIALSTATUS → the attempt's result.
RESULTS = {"ANSWER": "answered", "NOANSWER": "no_answer", "BUSY": "busy"}


@dataclass(frozen=True)
class Placement:
    """What a placeholder needs: who to call back, where to wait, and its channel id."""

    request_id: int
    attempt: int
    number: str
    topic: str
    language: str
    queue: str
    position: int | None

    @property
    def channel_id(self) -> str:
        return f"cb-{self.request_id}-{self.attempt}"


def placeholder_attempt(uniqueid: str) -> str | None:
    """The attempt's channel id (``cb-<id>-<attempt>``) when ``uniqueid`` is a placeholder's queue half: the
    channel a consultant talks to, whose uniqueid a call-back's recordings and case cards carry."""
    match = QUEUE_HALF.fullmatch(uniqueid)
    return match.group(1) if match else None


def placeholder_originate(
    placement: Placement, *, whisper: str, notice: str, max_penalty: int, ring_seconds: int
) -> actions.QueuedOriginate:
    """The AMI Originate of the placeholder: its queue half waits in ``placement.queue`` (at ``position``, or
    last), and once a consultant takes it the other half runs ``[hotline-callback-connect]``, which dials the
    caller over the outbound trunk (``HOTLINE_OUTBOUND_NUMBER``, inherited by the outbound Local channel) and
    plays them ``notice`` (a prompt's path as Asterisk sees it; empty: none) when they answer."""
    position = "" if placement.position is None else str(placement.position)
    return actions.QueuedOriginate(
        channel=f"Local/hold@{HOLD_CONTEXT}/n",
        context=CONNECT_CONTEXT,
        exten="s",
        priority=1,
        caller_id=f'"Oddzwonienie" <{placement.number}>',
        channel_id=placement.channel_id,
        other_channel_id=f"{placement.channel_id}-q",
        timeout_ms=PLACEHOLDER_WAIT_S * 1000,
        variables={
            "HOTLINE_CALLBACK_ID": placement.channel_id,
            "HOTLINE_ASTERISK_QUEUE": placement.queue,
            "HOTLINE_QUEUE_POSITION": position,
            "HOTLINE_MAX_PENALTY": str(max_penalty),
            "HOTLINE_WHISPER": whisper,
            "HOTLINE_NOTICE": notice,
            "HOTLINE_TOPIC": placement.topic,
            "HOTLINE_CALLBACK_RING": str(ring_seconds),
            "CHANNEL(language)": placement.language,
            "__HOTLINE_OUTBOUND_NUMBER": placement.number,
        },
    )


class CallbackStore:
    """The requests and attempts in the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Clock = utc_now) -> None:
        self.sessions = sessions
        self.now = now

    async def book_in_queue(
        self,
        uniqueid: str,
        *,
        number: str,
        topic: str,
        language: str,
        queue: str,
        position: int | None,
    ) -> int | None:
        """A caller leaving ``queue`` at ``position`` asks to be called back: the request's id, or None when
        one for this number and topic is active already (nothing new is stored)."""
        async with self.sessions() as session:
            call_id = await session.scalar(select(Call.id).where(Call.uniqueid == uniqueid))
            request = CallbackRequest(
                number=number,
                topic=topic,
                consent=True,
                requested_at=self.now(),
                call_id=call_id,
                status="pending",
                pending_key=f"{number}|{topic}",
                kind="in_queue",
                language=language,
                queue=queue,
                position=position,
                attempts=0,
            )
            session.add(request)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return None
            return request.id

    async def start_attempt(self, request_id: int, *, queue: str | None = None) -> Placement | None:
        """The next attempt of a pending request (its row written, the request ``waiting``), or None when
        it is not pending or another attempt for the same number is under way."""
        async with self.sessions() as session, session.begin():
            request = await session.get(CallbackRequest, request_id, with_for_update=True)
            if request is None or request.status != "pending":
                return None
            busy = await session.scalar(
                select(CallbackRequest.id).where(
                    CallbackRequest.number == request.number,
                    CallbackRequest.status.in_(("waiting", "dialing")),
                )
            )
            if busy is not None:
                return None
            request.attempts += 1
            request.status = "waiting"
            placement = Placement(
                request_id=request.id,
                attempt=request.attempts,
                number=request.number,
                topic=request.topic,
                language=request.language or "pl",
                queue=queue or request.queue or "",
                # Only the first attempt of an in-queue request goes back to the caller's place.
                position=request.position if request.attempts == 1 else None,
            )
            session.add(
                CallbackAttempt(
                    request_id=request.id,
                    attempt=request.attempts,
                    channel_id=placement.channel_id,
                    started_at=self.now(),
                )
            )
        return placement

    async def dialing(self, channel_id: str, consultant: str | None) -> None:
        """A consultant took the placeholder: the caller is being called."""
        async with self.sessions() as session, session.begin():
            attempt = await self._attempt(session, channel_id)
            if attempt is None or attempt.dialed_at is not None:
                return
            attempt.dialed_at = self.now()
            attempt.consultant = consultant
            await session.execute(
                update(CallbackRequest)
                .where(CallbackRequest.id == attempt.request_id)
                .values(status="dialing")
            )

    async def finished(
        self, channel_id: str, dial_status: str, *, max_attempts: int, retry_after: timedelta
    ) -> str | None:
        """The attempt ended with Asterisk's ``DIALSTATUS``: done, or pending again after ``retry_after``, or
        failed after ``max_attempts``. Returns the request's new status (None: no such open attempt)."""
        result = RESULTS.get(dial_status, "failed")
        async with self.sessions() as session, session.begin():
            attempt = await self._attempt(session, channel_id)
            if attempt is None or attempt.ended_at is not None:
                return None
            attempt.ended_at = self.now()
            attempt.result = result
            request = await session.get(CallbackRequest, attempt.request_id)
            assert request is not None
            request.last_result = result
            if result == "answered":
                request.status, request.pending_key = "done", None
            elif request.attempts >= max_attempts:
                request.status, request.pending_key = "failed", None
            else:
                request.status = "pending"
                request.next_attempt_at = self.now() + retry_after
            return request.status

    async def lost(self, channel_id: str, *, max_attempts: int) -> str | None:
        """The placeholder is gone. If no consultant took it (Asterisk restarted, it waited too long), the
        request is pending again in its old turn: nobody was called. If it had dialled, the result is unknown
        and it is never tried again (a person looks at it): a caller is never called twice."""
        async with self.sessions() as session, session.begin():
            attempt = await self._attempt(session, channel_id)
            if attempt is None or attempt.ended_at is not None:
                return None
            attempt.ended_at = self.now()
            if attempt.dialed_at is not None:
                # It dialled and the result never came: never call twice; a person looks at it.
                attempt.result = "unknown"
                status = "unknown"
            else:
                attempt.result = "lost"
                status = "pending"
            request = await session.get(CallbackRequest, attempt.request_id)
            assert request is not None
            if status == "pending" and request.attempts >= max_attempts:
                status = "failed"  # placed again and again, never taken: a person looks at it
            request.status = status
            request.last_result = attempt.result
            if status != "pending":
                request.pending_key = None
            return status

    async def open_attempts(self) -> list[str]:
        """Channel ids of the attempts not ended yet."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(CallbackAttempt.channel_id).where(CallbackAttempt.ended_at.is_(None))
            )
            return list(rows)

    async def due(self, *, limit: int = 20) -> Sequence[CallbackRequest]:
        """Pending requests whose time has come, oldest first."""
        now = self.now()
        async with self.sessions() as session:
            rows = await session.scalars(
                select(CallbackRequest)
                .where(
                    CallbackRequest.status == "pending",
                    or_(CallbackRequest.next_attempt_at.is_(None), CallbackRequest.next_attempt_at <= now),
                )
                .order_by(CallbackRequest.requested_at, CallbackRequest.id)
                .limit(limit)
            )
            return list(rows)

    async def history(self, request_id: int) -> list[CallbackAttempt]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(CallbackAttempt)
                .where(CallbackAttempt.request_id == request_id)
                .order_by(CallbackAttempt.id)
            )
            return list(rows)

    async def placeholder_channels(self, number: str) -> list[str]:
        """The queue halves (``cb-<id>-<attempt>-q``) of every attempt to call ``number`` back: the uniqueids
        its call-backs' recordings and case cards carry."""
        async with self.sessions() as session:
            return await placeholder_channels_of(session, number)

    async def requests_for(self, number: str) -> list[CallbackRequest]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(CallbackRequest).where(CallbackRequest.number == number).order_by(CallbackRequest.id)
            )
            return list(rows)

    @staticmethod
    async def _attempt(session: AsyncSession, channel_id: str) -> CallbackAttempt | None:
        if not CHANNEL_ID.fullmatch(channel_id):
            return None
        return await session.scalar(
            select(CallbackAttempt).where(CallbackAttempt.channel_id == channel_id).with_for_update()
        )


async def placeholder_channels_of(session: AsyncSession, number: str) -> list[str]:
    """The queue halves of every attempt to call ``number`` back (``CallbackStore.placeholder_channels``)."""
    rows = await session.scalars(
        select(CallbackAttempt.channel_id)
        .join(CallbackRequest, CallbackRequest.id == CallbackAttempt.request_id)
        .where(CallbackRequest.number == number)
        .order_by(CallbackAttempt.id)
    )
    return [f"{channel_id}-q" for channel_id in rows]


async def placeholder_call(session: AsyncSession, uniqueid: str) -> Call | None:
    """The call in which the caller asked for the call-back whose placeholder's queue half is ``uniqueid``
    (None: no placeholder's, or a request without a call, such as one made in the console)."""
    channel_id = placeholder_attempt(uniqueid)
    if channel_id is None:
        return None
    return await session.scalar(
        select(Call)
        .join(CallbackRequest, CallbackRequest.call_id == Call.id)
        .join(CallbackAttempt, CallbackAttempt.request_id == CallbackRequest.id)
        .where(CallbackAttempt.channel_id == channel_id)
    )
