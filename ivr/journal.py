"""The IVR's journal of a call: its path, language, topic and outcome, and its call-back requests.

What the caller does in the menu is kept in memory and handed to the call recorder (one batching writer for
the whole process, :mod:`hotline.call_recorder`) when the call leaves the IVR (queued, served, hung up) or
the route ends for any other reason (``flush`` in the route's ``finally``): one change per call instead of one
write per key, and the caller never waits for the database. Call-back requests are written at once: the
caller is told it is registered.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from hotline import calls
from hotline.call_recorder import CallRecorder
from hotline.calls import Sessions
from hotline.clock import Clock

log = logging.getLogger(__name__)

# How long a call-back request waits for the call's own record to be written, so it can point to it.
RECORD_WAIT = 2.0


class DatabaseJournal:
    """Implements :class:`ivr.session.CallJournal` for one call, by its Asterisk uniqueid."""

    def __init__(
        self,
        recorder: CallRecorder,
        sessions: Sessions,
        *,
        uniqueid: str,
        caller_e164: str | None,
        returning_days: int,
        now: Clock,
    ) -> None:
        self.recorder = recorder
        self.sessions = sessions
        self.now = now
        self.uniqueid = uniqueid
        self.caller_e164 = caller_e164
        self.returning_window = timedelta(days=returning_days)
        self._steps: list[tuple[datetime, str, str | None]] = []
        self._fields: dict[str, str] = {}

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
        """Hand what the journal holds to the recorder; idempotent."""
        if not self._steps and not self._fields:
            return
        steps, fields = self._steps, self._fields
        self._steps, self._fields = [], {}
        self.recorder.menu(self.uniqueid, steps, **fields)

    async def recent_topic(self) -> str | None:
        if self.caller_e164 is None or self.returning_window <= timedelta(0):
            return None
        return await calls.recent_topic(
            self.sessions,
            self.caller_e164,
            exclude_uniqueid=self.uniqueid,
            within=self.returning_window,
            now=self.now(),
        )

    async def request_callback(self, number: str, topic: str, consent: bool) -> None:
        try:
            async with asyncio.timeout(RECORD_WAIT):
                await self.recorder.drain()
        except TimeoutError:
            log.warning(
                "[%s] call record not written yet: the call-back request will not link to it", self.uniqueid
            )
        await calls.request_callback(
            self.sessions, number=number, topic=topic, consent=consent, uniqueid=self.uniqueid
        )
