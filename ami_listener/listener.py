"""The AMI listener: keeps each call's record true to what Asterisk did, whatever the IVR side managed.

It sees every call that enters the hotline (the dialplan's ``HotlineCallEntered`` event, raised before the
IVR, so even when the FastAGI server is down), its answer, the queue it
joined, a dialplan fallback, and its hang-up. One consumer applies the events in arrival order; the writes
go through the batching :class:`~hotline.call_recorder.CallRecorder` and the live state's own writer, so the
listener itself never waits for a store.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from ami_listener.reconcile import Reconciler
from hotline.ami import AmiEvent, Hangup, Newstate, QueueCallerJoin, UserEvent
from hotline.call_recorder import CallRecorder
from hotline.calls import NewCall
from hotline.live import LiveState
from hotline.outcomes import CallOutcome
from hotline.phone import is_presentation_restricted, mask, normalise_caller
from hotline.queues import topic_of
from hotline.recordings import ENDED, STARTED, Recordings
from hotline.settings import Settings

log = logging.getLogger(__name__)

HOTLINE_CONTEXT = "hotline"
# The contexts a caller's channel runs in (dialplans/hotline.conf; the rendered [hotline-queues], the wait in
# its queue, the call-back key; a transfer's; an external topic's): a call the listener did not see entering
# may end in any of them.
HOTLINE_CONTEXTS = frozenset(
    {
        HOTLINE_CONTEXT,
        "hotline-queues",
        "hotline-queue-wait",
        "hotline-queue-keys",
        "hotline-transfer",
        "hotline-transfer-card",
        "hotline-transfer-external",
    }
)
STATE_UP = 6
# Seconds between the hang-up of a call and the reading of Asterisk's record of it.
RECORD_DELAY = 2.0


class EventSource(Protocol):
    """Where the listener's events come from: the AMI client, or a recorded trace in tests."""

    def subscribe(self, maxsize: int = ...) -> asyncio.Queue[AmiEvent]: ...
    def unsubscribe(self, queue: asyncio.Queue[AmiEvent]) -> None: ...


class CallEventListener:
    def __init__(
        self,
        ami: EventSource,
        recorder: CallRecorder,
        settings: Settings,
        live: LiveState | None = None,
        *,
        reconciler: Reconciler | None = None,
        recordings: Recordings | None = None,
        remember: int = 50000,
    ) -> None:
        self.ami = ami
        self.recordings = recordings
        self.live = live
        self.reconciler = reconciler
        self._reconciling: asyncio.Task[None] | None = None
        self._reconcile_again = False
        self.recorder = recorder
        self.settings = settings
        # uniqueids of hotline calls seen entering, oldest first (bounded: a long run must not grow forever)
        self._calls: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._queue = ami.subscribe()
        self._task: asyncio.Task[None] | None = None
        # The dialplan's UserEvent(Name) by name, and the other events by type: one handler each.
        self._user_events: dict[str, Callable[[UserEvent], None]] = {
            "HotlineCallEntered": self._on_call_entered,
            "HotlineFallback": self._on_fallback,
            # Raised on the consultant's channel (dialplans/recordings.conf): the metadata of recordings.
            STARTED: self._on_recording,
            ENDED: self._on_recording,
        }
        self._handlers: tuple[tuple[type[Any], Callable[[Any], None]], ...] = (
            (Newstate, self._on_newstate),
            (QueueCallerJoin, self._on_queue_join),
            (Hangup, self._on_hangup),
        )

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="call-event-listener")

    async def close(self) -> None:
        self.ami.unsubscribe(self._queue)
        for task in (self._task, self._reconciling):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass

    def reconcile(self) -> None:
        """Read what Asterisk recorded meanwhile (at start, when AMI comes back, after the end of a call that
        began while the hotline was not listening). One reading at a time; a request during a reading
        makes another one follow it."""
        if self.reconciler is None:
            return
        if self._reconciling is not None and not self._reconciling.done():
            self._reconcile_again = True
            return
        self._reconciling = asyncio.create_task(self._reconcile(), name="reconcile")

    async def _reconcile(self) -> None:
        assert self.reconciler is not None
        while True:
            self._reconcile_again = False
            try:
                await self.reconciler.run()
            except Exception:
                log.exception("reconciliation with Asterisk's record failed; it is tried again on reconnect")
            if not self._reconcile_again:
                return

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                self.apply(event)
            except Exception:
                # An event of a shape nobody foresaw must not stop the listener: log it with the call, go on.
                log.exception("[%s] could not apply AMI event %s", event.uniqueid, event.name)
            finally:
                self._queue.task_done()

    def apply(self, event: AmiEvent) -> None:
        """Apply one event: the handler of its kind, for a call of the hotline (or one entering it)."""
        if isinstance(event, UserEvent):
            handler = self._user_events.get(event.user_event)
            if handler is not None:
                handler(event)
            return
        if event.uniqueid not in self._calls:
            if event.context not in HOTLINE_CONTEXTS or not isinstance(event, Hangup):
                return
            # A call that entered while the hotline was not listening (down, restarting): its end is
            # recorded by Asterisk, so read Asterisk's record of it now.
            log.info("[%s] a call the listener did not see entering ended: reconciling", event.uniqueid)
            # Asterisk writes its record of the call as the channel goes away, just after this event.
            asyncio.get_running_loop().call_later(RECORD_DELAY, self.reconcile)
            return
        for kind, handle in self._handlers:
            if isinstance(event, kind):
                handle(event)
                return

    # -- handlers, one per kind of event

    def _on_newstate(self, event: Newstate) -> None:
        if event.state == STATE_UP:
            self.recorder.answered(event.uniqueid, at=event.at)
            self._live("answered", event.uniqueid)

    def _on_queue_join(self, event: QueueCallerJoin) -> None:
        log.info("[%s] joined queue %s at position %d", event.uniqueid, event.queue, event.position)
        # The call's record keeps the topic; the language is the call's own (jobs-uk → jobs).
        self.recorder.queued(event.uniqueid, topic_of(event.queue))
        self._live("queued", event.uniqueid, queue=topic_of(event.queue), position=event.position)

    def _on_hangup(self, event: Hangup) -> None:
        self._calls.pop(event.uniqueid, None)
        self.recorder.ended(event.uniqueid, event.cause, at=event.at)
        self._live("ended", event.uniqueid, cause=event.cause)
        log.info("[%s] call ended (cause %s %s)", event.uniqueid, event.cause, event.cause_txt)

    def _on_recording(self, event: UserEvent) -> None:
        if self.recordings is not None:
            self.recordings.follow(event)

    def _on_fallback(self, event: UserEvent) -> None:
        if event.uniqueid not in self._calls:
            return
        log.warning(
            "[%s] dialplan fallback to the default queue (%s)", event.uniqueid, event.fields.get("Reason", "")
        )
        self.recorder.outcome(event.uniqueid, CallOutcome.FALLBACK_QUEUE)
        self._live("fallback", event.uniqueid)

    def _live(self, kind: str, uniqueid: str, **fields: object) -> None:
        if self.live is not None:
            self.live.call_changed(kind, uniqueid, **fields)

    def _on_call_entered(self, event: UserEvent) -> None:
        if event.context != HOTLINE_CONTEXT:
            return
        self._calls[event.uniqueid] = None
        while len(self._calls) > self._remember:
            self._calls.popitem(last=False)
        # The dialplan adds Asterisk's CALLERID(pres): "prohib…" when the caller withheld their number.
        caller = normalise_caller(
            event.caller_id_num,
            self.settings.default_region,
            presentation_restricted=is_presentation_restricted(event.fields.get("Presentation")),
            keep_restricted=self.settings.keep_withheld_numbers,
        )
        self.recorder.entered(
            NewCall(
                uniqueid=event.uniqueid,
                caller=caller,
                linkedid=event.linkedid or None,
                channel=event.channel[:128],
                dialed=event.extension[:32],
                # Asterisk's time, not ours: a listener that reads the event late keeps the call's true start.
                started_at=event.at,
            ),
        )
        log.info(
            "[%s] call entered the hotline from %s",
            event.uniqueid,
            "a withheld number" if caller.withheld else mask(caller.e164 or caller.raw),
        )
        self._live("entered", event.uniqueid, caller=caller.presented, withheld=caller.withheld)
