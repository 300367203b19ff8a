"""While a caller waits for a consultant: every ``wait_announce_seconds`` (45 s), their place in line and our
own estimate of the wait (:mod:`hotline.wait_estimate`), in their language, over the hold music.

The caller never leaves ``Queue()``: :class:`WaitingAnnouncer` follows ``QueueCallerJoin``/``Leave`` over AMI
and, for each announcement, originates ``Local/play@hotline-waiting-announce`` (``dialplans/waiting.conf``):
one half plays our prompts, the other whispers them to the caller's channel with ``ChanSpy``. The channel's
name comes from Asterisk's events, never from the caller, and is checked against :data:`CALLER_CHANNEL`
before use; the files are our own prompt ids in one of the catalogue's languages.

The figures are read from Asterisk at each announcement (``QueueStatus`` of the caller's queue: the callers
ahead and the caller's time waited, the consultants logged in, paused, in a call or in wrap-up, and their
penalties, which say the routing step that reaches them: :func:`queue_figures`) and from the queue's recent
handle times (``AgentComplete``'s talk time plus the wrap-up, kept in Redis by
:class:`~hotline.handle_times.HandleTimes`).
Call-backs holding a place in the queue are channels in it, counted among the callers ahead. Each announcement
ends with the offer of a call-back (``queue_callback_offer``). A caller who leaves the queue (a consultant
answers, they press the call-back key, they hang up) has the announcement in progress cut at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hotline.ami import (
    AgentComplete,
    AmiClient,
    AmiError,
    AmiEvent,
    AmiService,
    Hangup,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueEntry,
    QueueMember,
    actions,
    parse_event,
)
from hotline.clock import Clock, utc_now
from hotline.handle_times import HandleTimes
from hotline.queues import RoutingStep
from hotline.wait_estimate import (
    QueueFigures,
    Serving,
    WaitEstimate,
    announcement,
    estimate_wait,
    every_prompt,
    figures_by_reach,
)
from ivr.prompts import PromptCatalog, PromptError, prompt_file

log = logging.getLogger(__name__)

# A caller's channel as Asterisk names it (PJSIP/<endpoint>-<sequence>): the only thing passed to ChanSpy.
CALLER_CHANNEL = re.compile(r"^PJSIP/[A-Za-z0-9_.-]{1,64}-[0-9a-f]{8,16}$")
# A queue's name as AMI reports it (whatever scheme hotline/queues.yaml uses); it only reaches an AMI header
# and a Redis key.
QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ANNOUNCE_CONTEXT = "hotline-waiting-announce"
# Device states (QueueMember's Status) of a consultant who cannot take a call at all.
UNREACHABLE = frozenset({4, 5})  # invalid, unavailable
# Device states of a consultant free for a call.
FREE = frozenset({0, 1})  # unknown, not in use
# Said after the place and the wait: the key that books a call-back keeping the caller's place
# (hotline/callbacks.py; the key is hotline/queues.yaml's callback_key).
CALLBACK_OFFER = "queue_callback_offer"
# Callers of one queue announced within this many seconds share one QueueStatus of it.
SNAPSHOT_FRESH_S = 1.0


def check_prompts(catalog: PromptCatalog) -> None:
    """Every prompt an announcement may play is in the catalogue (in every language, as it checks)."""
    missing = [prompt_id for prompt_id in (*every_prompt(), CALLBACK_OFFER) if prompt_id not in catalog]
    if missing:
        raise PromptError(f"the waiting announcements need prompts missing from the catalogue: {missing}")


@dataclass
class WaitingCaller:
    uniqueid: str
    channel: str
    queue: str
    language: str
    announcements: int = 0
    # The uniqueid of the announcement channel last originated for them (hung up when they leave).
    announcing: str | None = None


@dataclass(frozen=True)
class QueueSnapshot:
    """One queue as ``QueueStatus`` listed it."""

    members: tuple[QueueMember, ...]
    entries: tuple[QueueEntry, ...]


def queue_figures(
    snapshot: QueueSnapshot,
    uniqueid: str,
    handle_times: tuple[float, ...],
    *,
    now: float,
    default_wrapup_s: float,
    routing: Sequence[RoutingStep] = (),
) -> QueueFigures | None:
    """The figures of one caller's wait from a snapshot of their queue; None if they are not in it.

    With ``routing`` (``hotline/queues.yaml``'s steps), only the consultants the caller's step reaches now
    (by their penalty and the caller's ``Wait``) serve and are free now; the wider steps come later."""
    entry = next((e for e in snapshot.entries if e.uniqueid == uniqueid), None)
    if entry is None:
        return None
    ahead = sum(1 for e in snapshot.entries if e.position < entry.position)
    consultants = []
    for member in snapshot.members:
        if member.paused or member.status in UNREACHABLE:
            continue
        wrapup = member.wrapup_time or default_wrapup_s
        in_wrapup = bool(member.last_call) and (member.last_call or 0) + wrapup > now
        free = member.status in FREE and not member.in_call and not in_wrapup
        consultants.append(Serving(member.penalty or 0, free))
    serving, free_now, wider = figures_by_reach(consultants, waited=entry.wait or 0, routing=routing)
    return QueueFigures(ahead=ahead, serving=serving, free=free_now, handle_times=handle_times, wider=wider)


class WaitingAnnouncer:
    def __init__(
        self,
        ami: AmiClient,
        handle_times: HandleTimes,
        *,
        sounds_dir: str,
        languages: tuple[str, ...],
        period_s: float,
        default_handle_s: float,
        wrapup_s: float,
        routing: Sequence[RoutingStep] = (),
        offer_callback: bool = True,
        clock: Clock = utc_now,
    ) -> None:
        self.ami = ami
        self.handle_times = handle_times
        self.sounds_dir = sounds_dir
        self.languages = languages
        self.period_s = period_s
        self.default_handle_s = default_handle_s
        self.wrapup_s = wrapup_s
        self.routing = tuple(routing)
        self.closing = (CALLBACK_OFFER,) if offer_callback else ()
        self.clock = clock
        self.callers: dict[str, WaitingCaller] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        # The connection is the runner's (it starts and closes it). At every login: the callers already
        # waiting (a restarted service, an AMI outage) are taken up.
        self._service = AmiService(
            ami,
            "waiting",
            self.apply,
            events="call,agent",  # callers joining and leaving queues, hang-ups, ends of calls
            after_login=self._adopt_waiting,
            owns_connection=False,
        )
        # The latest QueueStatus of each queue (or the one on its way), and when it was asked for.
        self._snapshots: dict[str, tuple[float, asyncio.Task[Mapping[str, QueueSnapshot]]]] = {}

    async def start(self) -> None:
        await self._service.start()

    async def close(self) -> None:
        """Every timer, announcement cut and QueueStatus of this announcer cancelled."""
        await self._service.close()
        self._timers.clear()
        self._snapshots.clear()
        self.callers.clear()

    # -- following the queues ---------------------------------------------------------------------------
    async def apply(self, event: AmiEvent) -> None:
        if isinstance(event, QueueCallerJoin):
            self.join(event.uniqueid, event.channel, event.queue, event.language)
        elif isinstance(event, QueueCallerLeave | Hangup):
            self.leave(event.uniqueid)
        elif isinstance(event, AgentComplete):
            await self._call_ended(event)

    def join(self, uniqueid: str, channel: str, queue: str, language: str) -> None:
        """A caller entered a queue: announcements every period until they leave it."""
        if not CALLER_CHANNEL.fullmatch(channel) or not QUEUE_NAME.fullmatch(queue):
            log.info("no waiting announcements for channel %r in queue %r", channel, queue)
            return
        if language not in self.languages:
            language = self.languages[0]
        self.leave(uniqueid)
        caller = WaitingCaller(uniqueid, channel, queue, language)
        self.callers[uniqueid] = caller
        self._timers[uniqueid] = self._service.spawn(self._every_period(caller), f"waiting-{uniqueid}")

    def leave(self, uniqueid: str) -> None:
        caller = self.callers.pop(uniqueid, None)
        timer = self._timers.pop(uniqueid, None)
        if timer is not None:
            timer.cancel()
        if caller is not None and caller.announcing is not None:
            # Not over a consultant's voice nor the call-back's questions: the whisper ends with the wait.
            self._service.spawn(self._cut(caller.announcing), f"waiting-cut-{uniqueid}")

    async def _cut(self, channel_id: str) -> None:
        with contextlib.suppress(AmiError):  # over already: the usual case
            await self.ami.send(actions.Hangup(channel=channel_id))

    async def _every_period(self, caller: WaitingCaller) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            try:
                if not await self.announce(caller):
                    self.callers.pop(caller.uniqueid, None)
                    self._timers.pop(caller.uniqueid, None)
                    return
            except (AmiError, OSError) as exc:
                log.warning("announcement to %s skipped: %s", caller.uniqueid, exc)
            except Exception:
                # A fault of ours must not end the caller's announcements: this one is lost, the next comes.
                log.exception("announcement to %s failed; the next one comes in its time", caller.uniqueid)

    async def _call_ended(self, event: AgentComplete) -> None:
        if event.talk_time is None or event.talk_time < 0 or not QUEUE_NAME.fullmatch(event.queue):
            return
        await self.handle_times.add(event.queue, event.talk_time + self.wrapup_s)

    async def _adopt_waiting(self) -> None:
        """Take up the callers that are waiting already (QueueStatus of every queue)."""
        try:
            snapshots = await self.snapshots(None)
        except AmiError as exc:
            log.warning("waiting callers not taken up: %s", exc)
            return
        for snapshot in snapshots.values():
            for entry in snapshot.entries:
                if entry.uniqueid in self.callers:
                    continue
                language = await self._language(entry.channel)
                self.join(entry.uniqueid, entry.channel, entry.queue, language)

    async def _language(self, channel: str) -> str:
        try:
            response = await self.ami.send(actions.Getvar(variable="CHANNEL(language)", channel=channel))
        except AmiError:
            return ""
        return response.fields.get("Value", "")

    # -- one announcement -------------------------------------------------------------------------------
    async def snapshots(self, queue: str | None) -> Mapping[str, QueueSnapshot]:
        """``QueueStatus`` of one queue (or all), by queue name."""
        response = await self.ami.send(actions.QueueStatus(queue=queue))
        members: dict[str, list[QueueMember]] = {}
        entries: dict[str, list[QueueEntry]] = {}
        for frame in response.events:
            event = parse_event(frame)
            if isinstance(event, QueueMember):
                members.setdefault(event.queue, []).append(event)
            elif isinstance(event, QueueEntry):
                entries.setdefault(event.queue, []).append(event)
        names = set(members) | set(entries)
        return {
            name: QueueSnapshot(tuple(members.get(name, ())), tuple(entries.get(name, ()))) for name in names
        }

    async def queue_snapshot(self, queue: str) -> QueueSnapshot | None:
        """The queue now, from a ``QueueStatus`` shared by the callers announced within SNAPSHOT_FRESH_S."""
        now = asyncio.get_running_loop().time()
        asked = self._snapshots.get(queue)
        if asked is None or now - asked[0] > SNAPSHOT_FRESH_S or _failed(asked[1]):
            asked = (now, self._service.spawn(self.snapshots(queue), f"queue-status-{queue}"))
            self._snapshots[queue] = asked
        return (await asyncio.shield(asked[1])).get(queue)

    async def estimate(self, caller: WaitingCaller) -> WaitEstimate | None:
        """The caller's estimate now; None when they are no longer in their queue."""
        snapshot = await self.queue_snapshot(caller.queue)
        if snapshot is None:
            return None
        figures = queue_figures(
            snapshot,
            caller.uniqueid,
            await self.handle_times.recent(caller.queue),
            now=self.clock().timestamp(),
            default_wrapup_s=self.wrapup_s,
            routing=self.routing,
        )
        if figures is None:
            return None
        return estimate_wait(figures, default_handle_s=self.default_handle_s)

    async def announce(self, caller: WaitingCaller) -> bool:
        """Say the caller's place and wait; False when they are no longer waiting."""
        estimate = await self.estimate(caller)
        if estimate is None or caller.uniqueid not in self.callers:
            return False
        prompts = (*announcement(estimate), *self.closing)
        files = "&".join(prompt_file(self.sounds_dir, caller.language, prompt) for prompt in prompts)
        caller.announcements += 1
        log.debug(
            "announcement %d to %s in %s (%s): %d ahead, %s",
            caller.announcements,
            caller.uniqueid,
            caller.queue,
            caller.language,
            estimate.ahead,
            "no estimate" if estimate.seconds is None else f"{estimate.seconds:.0f} s",
        )
        caller.announcing = f"waiting-{secrets.token_hex(8)}"
        await self.ami.send(
            actions.Originate(
                channel=f"Local/play@{ANNOUNCE_CONTEXT}",
                channel_id=caller.announcing,
                context=ANNOUNCE_CONTEXT,
                exten="spy",
                priority=1,
                caller_id='"19524" <19524>',
                timeout_ms=5000,
                variables={"__HOTLINE_WAIT_CALLER": caller.channel, "__HOTLINE_WAIT_PROMPTS": files},
            )
        )
        return True


def _failed(task: asyncio.Task[Any]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)
