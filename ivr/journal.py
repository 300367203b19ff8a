"""The IVR's journal on the database: the path, language, topic, outcome and call-back requests of a call.

What the caller does in the menu is kept in memory and written in one transaction when the call leaves the
IVR (queued, served, hung up) or the route ends for any other reason (``flush`` in the route's ``finally``):
one write per call instead of one per key. Call-back requests are written at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from hotline import calls
from hotline.calls import Sessions
from hotline.clock import Clock
from hotline.db.models import Call, CallStep


class DatabaseJournal:
    """Implements :class:`ivr.session.CallJournal` for one stored call."""

    def __init__(
        self,
        sessions: Sessions,
        *,
        call_id: int,
        uniqueid: str,
        caller_e164: str | None,
        returning_days: int,
        now: Clock,
    ) -> None:
        self.sessions = sessions
        self.now = now
        self.call_id = call_id
        self.uniqueid = uniqueid
        self.caller_e164 = caller_e164
        self.returning_window = timedelta(days=returning_days)
        self._steps: list[tuple[datetime, str, str | None]] = []
        self._fields: dict[str, object] = {}

    async def step(self, node: str, key: str | None) -> None:
        self._steps.append((calls.utcnow(), node[:64], None if key is None else key[:32]))

    async def set_language(self, language: str) -> None:
        self._fields["language"] = language

    async def set_topic(self, topic: str) -> None:
        self._fields["topic"] = topic

    async def finish(self, outcome: str, queue: str | None = None) -> None:
        self._fields["outcome"] = outcome
        if queue is not None:
            self._fields["queue"] = queue
        await self.flush()

    async def flush(self) -> None:
        """Write what the journal holds; idempotent."""
        if not self._steps and not self._fields:
            return
        steps, fields = self._steps, self._fields
        self._steps, self._fields = [], {}
        async with self.sessions() as session:
            session.add_all(
                CallStep(call_id=self.call_id, at=at, node=node, key=key) for at, node, key in steps
            )
            if fields:
                await session.execute(update(Call).where(Call.id == self.call_id).values(**fields))
            await session.commit()

    async def recent_topic(self) -> str | None:
        if self.caller_e164 is None or self.returning_window <= timedelta(0):
            return None
        return await calls.recent_topic(
            self.sessions,
            self.caller_e164,
            exclude_call_id=self.call_id,
            within=self.returning_window,
            now=self.now(),
        )

    async def request_callback(self, number: str, topic: str, consent: bool) -> None:
        await calls.request_callback(
            self.sessions, number=number, topic=topic, consent=consent, call_id=self.call_id
        )
