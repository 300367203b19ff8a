"""The IVR's journal on the database: the path, language, topic, outcome and call-back requests of a call."""

from __future__ import annotations

from datetime import timedelta

from hotline import calls
from hotline.calls import Sessions
from hotline.clock import Clock


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

    async def step(self, node: str, key: str | None) -> None:
        await calls.add_step(self.sessions, self.call_id, node, key)

    async def set_language(self, language: str) -> None:
        await calls.set_fields(self.sessions, self.uniqueid, language=language)

    async def set_topic(self, topic: str) -> None:
        await calls.set_fields(self.sessions, self.uniqueid, topic=topic)

    async def finish(self, outcome: str, queue: str | None = None) -> None:
        values: dict[str, object] = {"outcome": outcome}
        if queue is not None:
            values["queue"] = queue
        await calls.set_fields(self.sessions, self.uniqueid, **values)

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
