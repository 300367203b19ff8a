"""The call-back dialer: places the placeholders of call-backs in their queues and follows what becomes of
them (the model and its rules: :mod:`hotline.callbacks`).

- A caller who pressed the call-back key while waiting gets a placeholder at once, at their place
  (:meth:`CallbackDialer.place_now`, from the FastAGI route ``queue-callback``).
- Pending requests (the IVR's after-hours requests, and retries of unanswered call-backs) get one at the end
  of their queue: only while the hotline is open, oldest first, only when a consultant of that queue is
  free, one waiting placeholder per queue at a time, and never two attempts for one number at once.
- Asterisk reports each attempt: the consultant who took it (``AgentConnect`` of the placeholder's queue
  half), the dialling and the result (``UserEvent`` ``HotlineCallbackDialing`` and ``HotlineCallbackResult``
  with the ``DIALSTATUS``), the placeholder's end (``Hangup``). After a restart of this service, the
  placeholders still in Asterisk are followed again; an attempt whose placeholder is gone is settled by
  :meth:`hotline.callbacks.CallbackStore.lost`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import timedelta

from hotline.ami import AgentConnect, AmiClient, AmiError, AmiEvent, AmiService, Hangup, UserEvent, actions
from hotline.callbacks import CHANNEL_ID, CallbackStore, Placement, placeholder_originate
from hotline.clock import Clock, utc_now
from hotline.queues import Queues
from hotline.recordings import NOTICE_PROMPT
from hotline.settings import Settings
from ivr.hours import OpeningHours
from ivr.prompts import dialplan_prompt_file

log = logging.getLogger(__name__)


def recording_notice(sounds_dir: str, language: str, languages: Collection[str]) -> str:
    """The recording notice a caller called back hears when they answer (Asterisk's path of the prompt the
    inbound call plays first): in the request's ``language`` when it is one of ``languages``, else in
    Polish; empty (no notice played) when the path is not one the dialplan may be given."""
    language = language if language in languages else "pl"
    return dialplan_prompt_file(sounds_dir, language, NOTICE_PROMPT) or ""


class CallbackDialer:
    def __init__(
        self,
        settings: Settings,
        store: CallbackStore,
        queues: Queues,
        hours: OpeningHours,
        ami: AmiClient | None,
        sounds_dir: str,
        *,
        now: Clock = utc_now,
        owns_connection: bool = True,
    ) -> None:
        self.settings = settings
        self.store = store
        self.queues = queues
        self.hours = hours
        self.ami = ami
        self.sounds_dir = sounds_dir
        self.now = now
        # The consultant (queue member interface) who took each placeholder, by its channel id.
        self._taken_by: dict[str, str] = {}
        # Queues where a placeholder of a pending request (not an in-queue one) waits now.
        self._waiting_in: dict[str, str] = {}
        self._lock = asyncio.Lock()
        # Set when the placeholders are adopted after a login, cleared at each login (tests wait for it).
        self.adopted = asyncio.Event()
        self._service = (
            AmiService(
                ami,
                "callback",
                self._on_event,
                events="call,agent,user",
                after_login=self._after_login,
                login_resets=self.adopted,
                owns_connection=owns_connection,
            )
            if ami is not None
            else None
        )

    # -- running --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._service is not None:
            self._service.spawn(self._work(), "callback-dialer")
            await self._service.start()

    async def close(self) -> None:
        if self._service is not None:
            await self._service.close()

    async def _after_login(self) -> None:
        """Follow the placeholders Asterisk still holds; settle the attempts whose placeholder is gone."""
        assert self.ami is not None
        try:
            response = await self.ami.send(actions.Status(), timeout=30)
        except AmiError as exc:
            log.warning("call-backs not adopted (%s); again at the next login", exc)
            return
        present = {event.get("Uniqueid", "") for event in response.events}
        for channel_id in await self.store.open_attempts():
            if channel_id not in present:
                status = await self.store.lost(channel_id, max_attempts=self.settings.callback_attempts)
                log.warning(
                    "call-back %s: its placeholder is gone; the request is now %s", channel_id, status
                )
        self._waiting_in = {q: c for q, c in self._waiting_in.items() if c in present}
        self.adopted.set()

    # -- placing --------------------------------------------------------------------------------------------
    async def place_now(self, request_id: int) -> bool:
        """The first attempt of an in-queue request: its placeholder at the caller's place, now."""
        placement = await self.store.start_attempt(request_id)
        return placement is not None and await self._originate(placement)

    def _whisper(self, topic: str) -> str:
        return dialplan_prompt_file(self.sounds_dir, "pl", f"callback_whisper_{topic}") or ""

    async def _originate(self, placement: Placement) -> bool:
        if self.ami is None or not self.ami.connected:
            await self.store.lost(placement.channel_id, max_attempts=self.settings.callback_attempts)
            return False
        parsed = self.queues.parse_asterisk_name(placement.queue)
        action = placeholder_originate(
            placement,
            whisper=self._whisper(parsed.topic if parsed else self.queues.default),
            notice=recording_notice(self.sounds_dir, placement.language, self.queues.languages),
            max_penalty=self.queues.initial_max_penalty,
            ring_seconds=self.settings.callback_ring_seconds,
        )
        try:
            await self.ami.send(action)
        except AmiError as exc:
            log.warning("call-back %s: placeholder not placed (%s)", placement.channel_id, exc)
            await self.store.lost(placement.channel_id, max_attempts=self.settings.callback_attempts)
            return False
        log.info(
            "call-back %s: placeholder in %s at %s",
            placement.channel_id,
            placement.queue,
            placement.position or "the end",
        )
        return True

    def queue_for(self, topic: str, language: str | None) -> str:
        """The Asterisk queue of a request's topic (a topic the queues do not know: the general one)."""
        topic = topic if topic in self.queues else self.queues.default
        language = language if language in self.queues.languages else self.queues.languages[0]
        return self.queues.asterisk_name(topic, language)

    async def _work(self) -> None:
        while True:
            await asyncio.sleep(self.settings.callback_poll_seconds)
            try:
                await self.work_once()
            except Exception:
                log.exception("call-back dialer round failed")

    async def work_once(self) -> int:
        """One round over the pending requests; returns how many placeholders it placed."""
        if self.ami is None or not self.ami.connected or not self.hours.is_open(self.now()):
            return 0
        placed = 0
        async with self._lock:
            for request in await self.store.due():
                queue = request.queue or self.queue_for(request.topic, request.language)
                if queue in self._waiting_in or not await self._consultant_free(queue):
                    continue
                placement = await self.store.start_attempt(request.id, queue=queue)
                if placement is None:
                    continue
                if await self._originate(placement):
                    self._waiting_in[queue] = placement.channel_id
                    placed += 1
        return placed

    async def _consultant_free(self, queue: str) -> bool:
        """A member of ``queue`` logged in, not paused and not on a call."""
        assert self.ami is not None
        try:
            response = await self.ami.send(actions.QueueStatus(queue=queue))
        except AmiError:
            return False
        return any(
            event.get("Event") == "QueueMember" and event.get("Paused") == "0" and event.get("Status") == "1"
            for event in response.events
        )

    # -- following ------------------------------------------------------------------------------------------
    async def _on_event(self, event: AmiEvent) -> None:
        if isinstance(event, AgentConnect) and event.uniqueid.endswith("-q"):
            channel_id = event.uniqueid[:-2]
            if CHANNEL_ID.fullmatch(channel_id):
                self._taken_by[channel_id] = event.interface[:40]
                self._release(channel_id)
        elif isinstance(event, UserEvent) and event.user_event == "HotlineCallbackDialing":
            channel_id = event.fields.get("Id", "")
            await self.store.dialing(channel_id, self._taken_by.get(channel_id))
            log.info(
                "call-back %s: taken by %s, calling the caller", channel_id, self._taken_by.get(channel_id)
            )
        elif isinstance(event, UserEvent) and event.user_event == "HotlineCallbackResult":
            channel_id = event.fields.get("Id", "")
            status = await self.store.finished(
                channel_id,
                event.fields.get("Status", ""),
                max_attempts=self.settings.callback_attempts,
                retry_after=timedelta(seconds=self.settings.callback_retry_seconds),
            )
            self._taken_by.pop(channel_id, None)
            log.info(
                "call-back %s: %s → request %s", channel_id, event.fields.get("Status", "?")[:16], status
            )
        elif isinstance(event, Hangup) and CHANNEL_ID.fullmatch(event.uniqueid):
            self._release(event.uniqueid)
            status = await self.store.lost(event.uniqueid, max_attempts=self.settings.callback_attempts)
            if status is not None:
                log.warning(
                    "call-back %s: placeholder ended before its result; request %s", event.uniqueid, status
                )

    def _release(self, channel_id: str) -> None:
        for queue, waiting in list(self._waiting_in.items()):
            if waiting == channel_id:
                del self._waiting_in[queue]
