"""The IVR's journal of a call: its path, language, topic and outcome, and its call-back request.

Everything goes through the call recorder (one batching writer for the whole process,
:mod:`hotline.call_recorder`), so the caller never waits for the database: the path through the menu is
kept in memory and handed over in one change when the call leaves the IVR (queued, served, hung up) or the
route ends for any other reason (``flush`` in the route's ``finally``); a call-back request is handed over at
once, and the recorder writes it after the call's own record, in the same order as everything else.

The caller's progress (node, language, topic) also goes to the live state, so a wallboard can show the
callers in the menu.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from hotline import calls
from hotline.call_recorder import CallRecorder, MenuStep
from hotline.calls import Sessions
from hotline.clock import Clock, utc_now
from hotline.live import LiveState

log = logging.getLogger(__name__)

# A call's path through the menu is recorded up to this many steps; the last one recorded is a marker that
# the rest was cut (a caller pressing keys for an hour, or a broken peer, must not grow a call's record and
# this process without bound).
MAX_STEPS = 300
CUT_MARKER = "steps_cut"


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
        live: LiveState | None = None,
    ) -> None:
        self.recorder = recorder
        self.sessions = sessions
        self.live = live
        self.now = now
        self.uniqueid = uniqueid
        self.caller_e164 = caller_e164
        self.returning_window = timedelta(days=returning_days)
        self._steps: list[MenuStep] = []
        self._taken = 0  # steps taken in this call, recorded or not
        self._fields: dict[str, str] = {}

    async def step(self, node: str, key: str | None) -> None:
        self._taken += 1
        if self._taken > MAX_STEPS:
            return  # the marker below says how many more there were
        if self._taken == MAX_STEPS:
            node, key = CUT_MARKER, "cut"
            log.warning("[%s] more than %d menu steps: the rest are not recorded", self.uniqueid, MAX_STEPS)
        # Real time, not the IVR's clock (which tests pin to a working day or an evening).
        self._steps.append((utc_now(), node[:64], None if key is None else key[:32]))
        if key is None:
            self._progress(node=node[:64])

    async def heard(self, node: str, text: str, confidence: float, key: str | None) -> None:
        # "said:4" like a key pressed; "said:?" not understood; "said:-" nothing said. The text and the
        # confidence go with the step.
        await self.step(node, f"said:{key or ('?' if text else '-')}")
        if self._steps and self._taken < MAX_STEPS:
            at, step_node, step_key = self._steps[-1][:3]
            self._steps[-1] = (at, step_node, step_key, text[:200], round(confidence, 3))

    async def set_language(self, language: str) -> None:
        self._fields["language"] = language
        self._progress()

    async def set_topic(self, topic: str) -> None:
        self._fields["topic"] = topic
        self._progress()

    def _progress(self, **fields: str) -> None:
        if self.live is not None:
            known = {name: self._fields[name] for name in ("language", "topic") if name in self._fields}
            self.live.call_changed("menu", self.uniqueid, **known, **fields)

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
        self.recorder.callback_requested(self.uniqueid, number=number, topic=topic, consent=consent)
