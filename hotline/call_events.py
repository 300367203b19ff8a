"""The AMI listener: keeps each call's record true to what Asterisk did, whatever the IVR side managed.

It sees every call that enters the hotline (the dialplan's ``HotlineCallEntered`` event, raised before the
IVR, so even when the FastAGI server is down), its answer, the queue it
joined, a dialplan fallback, and its hang-up. One consumer applies the events in arrival order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from hotline import calls
from hotline.ami import AmiClient, AmiEvent, Hangup, Newstate, QueueCallerJoin, UserEvent
from hotline.calls import NewCall, Sessions
from hotline.live import LiveState
from hotline.phone import normalise_caller
from hotline.settings import Settings

log = logging.getLogger(__name__)

HOTLINE_CONTEXT = "hotline"
HOTLINE_NUMBER = "19524"
STATE_UP = 6


class CallEventListener:
    def __init__(
        self,
        ami: AmiClient,
        sessions: Sessions,
        settings: Settings,
        live: LiveState | None = None,
        *,
        remember: int = 50000,
    ) -> None:
        self.ami = ami
        self.live = live
        self.sessions = sessions
        self.settings = settings
        # uniqueids of hotline calls seen entering, oldest first (bounded: a long run must not grow forever)
        self._calls: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._queue = ami.subscribe()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="call-event-listener")

    async def close(self) -> None:
        self.ami.unsubscribe(self._queue)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self.apply(event)
            except Exception:
                # A database hiccup must not stop the listener: log it with the call and go on.
                log.exception("[%s] could not apply AMI event %s", event.uniqueid, event.name)

    async def apply(self, event: AmiEvent) -> None:
        if (
            isinstance(event, UserEvent)
            and event.user_event == "HotlineCallEntered"
            and event.context == HOTLINE_CONTEXT
        ):
            await self._call_entered(event)
            return
        if event.uniqueid not in self._calls:
            return
        if isinstance(event, Newstate) and event.state == STATE_UP:
            await calls.mark_answered(self.sessions, event.uniqueid)
            await self._live("answered", event.uniqueid)
        elif isinstance(event, QueueCallerJoin):
            log.info("[%s] joined queue %s at position %d", event.uniqueid, event.queue, event.position)
            await calls.mark_queued(self.sessions, event.uniqueid, event.queue)
            await self._live("queued", event.uniqueid, queue=event.queue, position=event.position)
        elif isinstance(event, UserEvent) and event.user_event == "HotlineFallback":
            log.warning(
                "[%s] dialplan fallback to the default queue (%s)",
                event.uniqueid,
                event.fields.get("Reason", ""),
            )
            await calls.set_fields(self.sessions, event.uniqueid, outcome="fallback_queue")
            await self._live("fallback", event.uniqueid)
        elif isinstance(event, Hangup):
            self._calls.pop(event.uniqueid, None)
            await calls.close_call(self.sessions, event.uniqueid, cause=event.cause)
            await self._live("ended", event.uniqueid, cause=event.cause)
            log.info("[%s] call ended (cause %s %s)", event.uniqueid, event.cause, event.cause_txt)

    async def _live(self, kind: str, uniqueid: str, **fields: object) -> None:
        if self.live is not None:
            await self.live.call_changed(kind, uniqueid, **fields)

    async def _call_entered(self, event: UserEvent) -> None:
        self._calls[event.uniqueid] = None
        while len(self._calls) > self._remember:
            self._calls.popitem(last=False)
        caller = normalise_caller(event.caller_id_num, self.settings.default_region)
        await calls.open_call(
            self.sessions,
            NewCall(
                uniqueid=event.uniqueid,
                caller=caller,
                linkedid=event.linkedid or None,
                channel=event.channel[:128],
                dialed=event.extension[:32],
            ),
        )
        log.info(
            "[%s] call entered the hotline from %s",
            event.uniqueid,
            "a withheld number" if caller.withheld else caller.e164 or repr(caller.raw),
        )
        await self._live("entered", event.uniqueid, caller=caller.e164, withheld=caller.withheld)
