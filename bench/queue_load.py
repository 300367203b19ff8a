"""Callers waiting for consultants: our queues (consultants logged in through ``hotline.consultants``) against
the same queues with static members and no Python (a plain dialplan ``Queue()``), in the same run, with the
same real SIP phones and the same callers.

    .venv/bin/python bench/queue_load.py            # full run: 200 callers, 20 phones, about 4 minutes
    .venv/bin/python bench/queue_load.py --callers 100 --phones 10 --rounds ours,plain
    .venv/bin/python bench/queue_load.py --smoke    # 20 callers, 4 phones; exit 1 on a lost or doubled caller

Needs root (the Asterisk sandbox runs under chroot) and baresip (Debian baresip-core). Everything stays on
127.0.0.1. The hotline runs in a subprocess (``bench/hotline_process.py``), as in production: Asterisk, our
FastAGI server, the AMI listener recording every call, the consultants' "no answer" follower, the waiting
announcer (every 45 s, our queues only), the call-back dialler, a temporary SQLite database, the clock pinned
to a working day. This process plays the rest: the consultants (added, and logged in and paused through
``hotline.consultants``' :class:`ConsultantStates` over its own AMI connection, as the console does), their
phones (one baresip each, auto-answer, echoing what it hears, hanging up after ``talk`` seconds), and the
callers (AMI Originate over the loopback SIP trunk; the calling leg echoes what it hears, as in
``bench/ivr_calls.py``).

The queues (a queues file of the benchmark's own: the shipped topics and languages, wrap-up 0, ring 15 s,
routing widened after 10 s to the caller's language and after 20 s to anyone):
  ours   callers dial 195980 (Polish) / 195981 (Ukrainian) in ``dialplans/bench.conf``, which sends them
         to ``[hotline-queues]`` ``jobs`` as the IVR does: ``jobs-pl`` / ``jobs-uk`` with the queue rule.
         Members: each consultant, added by ``ConsultantStates.log_in`` (QueueAdd into every queue the
         skills reach, the penalty they give, the phone as StateInterface).
  plain  callers dial 195970 / 195971: ``Queue(plain-jobs-pl)`` (uk) with the same rule and starting penalty.
         The ``plain-*`` queues are the same queues (the same ``[topic-queue]`` template, ring and wrap-up
         times) with the same members and penalties written as static ``member =>`` lines; the benchmark
         adds them to the instance's ``queues_hotline.conf`` and reloads app_queue before the first call.
Consultants: every one speaks Polish on the topic (levels 3, 2, 1 in turn: penalties 0, 1, 2), two in five
Ukrainian too (level 2); every fourth caller is Ukrainian.

A round (one flow): the phones are free, ``callers`` calls are originated at ``rate`` per second and wait;
each is answered by a phone, talks ``talk`` seconds, and the phone hangs up. Meanwhile one consultant in
turn is paused and made available again every ``pause_interval`` seconds (ours: ``ConsultantStates.pause``
then ``.available``, database and AMI; plain: the bare AMI ``QueuePause`` on and off, what a system without
Python would send), so both flows lose the same capacity. Rounds alternate (ours, plain, plain, ours, ours,
plain in the full run) so that drift on a shared machine hits both.

Figures, per flow (all rounds of it together):
  calls completed per minute   completed calls / (first connect -> last completed hang-up of the round)
  free -> next connected       a consultant's previous call ended (Hangup of the phone's channel) -> that
                               consultant's next AgentConnect, from Asterisk's event timestamps; counted
                               only while at least as many callers waited as there are phones among those
                               the consultant serves from the first second (the first routing step: a
                               Polish-only consultant and the Ukrainian callers wait for the queue rule,
                               which is routing, not dispatch). Includes the ring and the answer.
  pause / unpause              wall time of each action as the caller of it sees it
  lost                         a caller whose channel ended without being connected, or who was not
                               connected within the deadline; connected twice: two AgentConnects
Also printed: the talk (connected -> hung up: the phones' timer, a check of the set-up), calls put to a
phone already on one (StateInterface and ``ringinuse = no`` should make it 0), phones that let a call ring
out (the hotline pauses them "no answer"; the benchmark makes them available again), per round the parts of
"free -> next connected" (free -> rung, rung -> answered, answered -> AgentConnect), the CPU, and the ERROR
lines of Asterisk's log. Benchmarks assert only
correctness: exit 1 if a caller was lost or connected twice (in either flow), never on speed.

Reading "free -> next connected": it is Asterisk's queue offering the caller (free -> rung); the phone
answers in about 5 ms and the bridge follows in 2-3 ms. Its tail is the queue's ``retry = 2`` of the
``[topic-queue]`` template (a caller at the head who found no one free tries again 2 s later), the same in
both flows; the p99 rests on the 4 or 5 slowest of some 440 gaps and moves by a second from run to run.

Figures of full runs on the 2-core development machine (200 callers a round, 20 phones, talk 3 s, three
rounds of each flow, 600 callers each), shared with other sessions' work:

  run                                        ours             plain            ours/plain
  2026-11-30 10:04, main with recordings and transfers, the machine quiet (105-112 % of 200 % in the rounds)
    calls completed per minute               324              330              0.98   (goal >= 0.90)
    free -> next connected p50 / p99         218 ms / 2.19 s  179 ms / 1.19 s
      gaps over 1.5 s (a retry)              8 of 428         1 of 432
    pause/unpause p50 / p99                  28 / 178 ms      15 / 107 ms      (ours: database + AMI)
    lost / connected twice                   0 / 0            0 / 0
    CPU, % of one core                       Asterisk 55-59, the hotline 23 (ours) / 19 (plain), driver 10-12,
                                             phones 10
  The runs below are of main before recordings and transfers (ea3ea2f): the plain flow then had no gosub.
  2026-11-30 09:57, the machine quiet, eight rounds (--rounds ours,plain,plain,ours,ours,plain,plain,ours)
    calls completed per minute               329              322              1.02   (goal >= 0.90)
    free -> next connected p50 / p99         187 ms / 1.13 s  183 ms / 1.95 s
      gaps over 1.5 s (a retry)              0 of 591         12 of 591
    pause/unpause p50 / p99                  26 / 137 ms      14 / 62 ms       (ours: database + AMI)
    lost / connected twice                   0 / 0            0 / 0            (800 callers each)
  2026-11-30 09:50, the machine quiet (4 % busy before; 92-108 % of 200 % during the rounds)
    calls completed per minute               333              324              1.03   (goal >= 0.90)
    free -> next connected p50 / p99         183 ms / 1.02 s  179 ms / 1.40 s
      gaps over 1.5 s (a retry)              0 of 439         3 of 442
    pause/unpause p50 / p99                  27 / 206 ms      14 / 68 ms       (ours: database + AMI)
    lost / connected twice                   0 / 0            0 / 0
    CPU, % of one core                       Asterisk 49-53, the hotline 18-19, this driver 10-12, phones 9-10
  2026-11-30 09:45, other work bursting beside it (84-182 % of 200 % during the rounds)
    calls completed per minute               293              327              0.89
    free -> next connected p50 / p99         447 ms / 4.73 s  175 ms / 2.00 s
      gaps over 1.5 s (a retry)              45 of 471        7 of 437
    pause/unpause p50 / p99                  27 / 159 ms      13 / 54 ms
    lost / connected twice                   0 / 0            0 / 0
  In the second run our rounds made 324, 266 and 293 calls a minute, the plain ones 333, 324 and 324: the two
  slow rounds came back to back during a burst of the other work; answered -> connected stayed 2-18 ms (and
  the ring takes about 5 ms in every other run), so the time was lost before the ring, in Asterisk's queue.
  Whether our queues are the more sensitive to a busy machine is not settled by these runs (the two quiet
  runs show no difference); it takes a run with more rounds while the machine is busy to tell.

200 callers and 20 phones do not overload this machine: the benchmark's own processes (Asterisk, the
hotline, this driver, 20 baresip) take about 90 % of one core of the 200 %. Pause/unpause through
ConsultantStates is a database transaction and a read (SQLite here, which the hotline's call recorder writes
too) before the same AMI action, hence its 2-3x of the bare action.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import yaml
from hotline_process import WORKING_DAY, CpuMeter, CpuUse, HotlineProcess, machine_busy
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.phones import PhoneError, SoftPhone, phone_ports
from devtools.testcall import originate_caller
from hotline.ami import (
    AgentConnect,
    AgentRingNoAnswer,
    AmiClient,
    AmiError,
    AmiEvent,
    AmiService,
    actions,
    send_once,
)
from hotline.ami import Hangup as HangupEvent
from hotline.ami.events import Newchannel, Newstate, QueueCallerJoin, QueueCallerLeave
from hotline.consultants import ConsultantInfo, ConsultantPhones, Consultants, ConsultantStates, parse_skill
from hotline.consultants.phones import write_private
from hotline.db import ConsoleUser, create_engine, session_factory
from hotline.queues import NO_ANSWER, RULE_NAME, Queues
from hotline.settings import PROJECT_ROOT, Settings, free_ports
from launcher.runner import raise_fd_limit

log = logging.getLogger("bench.queue_load")

SERVER_LIFETIME = 1800  # seconds: a hotline subprocess left behind by a crashed run stops by itself

CALLER_CONTEXT = "hotline-bench-caller"
TOPIC = "jobs"
PLAIN_PREFIX = "plain-"
RING_SECONDS = 15
ROUTING = [
    {"after": 0, "reach": "topic"},
    {"after": 10, "reach": "language"},
    {"after": 20, "reach": "anyone"},
]
PAUSE_REASON = "break"
# A "free -> next connected" this long waited for the head caller's next try (the queues' retry = 2 s).
RETRY_LIKE = 1.5
# Asterisk's RTP ports: below the phones' (devtools.phones.phone_ports picks from 30000 up).
RTP_PORTS = (20000, 29998)
ORIGINATE_DEADLINE = 30.0  # originate -> the caller is in the queue
END_DEADLINE = 20.0  # the last phone hung up -> every leg gone


@dataclass(frozen=True)
class Flow:
    key: str
    label: str
    numbers: dict[str, str]  # caller's language -> the number dialled
    prefix: str  # of its Asterisk queues' names


OURS = Flow("ours", "ours (hotline.consultants)", {"pl": "195980", "uk": "195981"}, "")
PLAIN = Flow("plain", "plain (static, Queue())", {"pl": "195970", "uk": "195971"}, PLAIN_PREFIX)
FLOWS = {flow.key: flow for flow in (OURS, PLAIN)}


@dataclass(frozen=True)
class Plan:
    callers: int
    phones: int
    talk: float  # seconds a phone talks before hanging up
    rate: float  # callers originated per second
    pause_interval: float  # seconds between pause/unpause pairs
    rounds: tuple[str, ...]


FULL = Plan(
    callers=200,
    phones=20,
    talk=3.0,
    rate=20.0,
    pause_interval=1.0,
    rounds=("ours", "plain", "plain", "ours", "ours", "plain"),
)
SMOKE = Plan(callers=20, phones=4, talk=1.0, rate=10.0, pause_interval=1.0, rounds=("ours", "plain"))


def skills_of(index: int) -> list[str]:
    """Consultant ``index``'s skills: Polish on the topic at levels 3, 2, 1 in turn; two in five Ukrainian."""
    skills = [f"{TOPIC}:pl:{3 - index % 3}"]
    if index % 5 in (0, 2):
        skills.append(f"{TOPIC}:uk:2")
    return skills


def language_of(index: int) -> str:
    return "uk" if index % 4 == 3 else "pl"


def bench_queues(folder: Path) -> Path:
    """The benchmark's queues file: the shipped one, wrap-up 0, its own ring time and routing steps."""
    data = yaml.safe_load((PROJECT_ROOT / "hotline" / "queues.yaml").read_text())
    data["routing"] = ROUTING
    data["ring_seconds"] = RING_SECONDS
    data["wrapup_seconds"] = 0
    path = folder / "queues.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def render_plain_queues(queues: Queues, members: Sequence[ConsultantInfo]) -> str:
    """The plain flow's queues: ours under another name, on the same template and times, each consultant a
    static member with the penalty of ours (``Queues.memberships``)."""
    lines = ["", "; bench/queue_load.py: the same queues with static members, for the plain flow"]
    for target in queues.asterisk_queues():
        lines += [
            f"[{PLAIN_PREFIX}{target.name}](topic-queue)",
            f"timeout = {queues.ring_seconds}",
            f"wrapuptime = {queues.wrapup_seconds}",
        ]
        for info in members:
            penalty = queues.memberships(info.skills).get(target.name)
            if penalty is not None:
                lines.append(f"member => {info.interface},{penalty},{info.username},{info.interface}")
    return "\n".join(lines) + "\n"


# ============================================================================================ the hotline


def hotline_settings(state_dir: Path, queues_file: Path) -> dict[str, Any]:
    return {
        "state_dir": str(state_dir),
        "database_url": f"sqlite+aiosqlite:///{state_dir / 'bench.sqlite3'}",
        "asterisk_instance": f"queues-{os.getpid()}",
        "queues_file": str(queues_file),
        **free_ports(),
        "rtp_start": RTP_PORTS[0],
        "rtp_end": RTP_PORTS[1],
        "extra_dialplans": "bench.conf",
        "redis_prefix": f"hotline-bench-queues-{os.getpid()}",
    }


# ============================================================================================ the consultants


@dataclass
class Desk:
    """A consultant and their phone, which answers every call and hangs up after ``talk`` seconds."""

    info: ConsultantInfo
    phone: SoftPhone
    task: asyncio.Task[None] | None = None

    async def work(self, talk: float) -> None:
        while True:
            try:
                await self.phone.wait_for("CALL_ESTABLISHED", timeout=3600)
            except PhoneError:
                continue
            try:
                # Ended by the other side first: nothing to hang up (a late "hangup" would end the next call).
                await self.phone.wait_for("CALL_CLOSED", timeout=talk)
                continue
            except PhoneError:
                pass
            try:
                await self.phone.hang_up()
            except Exception as exc:
                log.warning("phone %s: hang-up not sent (%s)", self.info.username, exc)


class Office:
    """The consultants: in the database, their phones registered, their states through ConsultantStates."""

    def __init__(self, hotline: HotlineProcess, queues: Queues, folder: Path) -> None:
        self.hotline = hotline
        self.queues = queues
        self.folder = folder
        self.engine: AsyncEngine | None = None
        self.consultants: Consultants | None = None
        self.states: ConsultantStates | None = None
        self.desks: list[Desk] = []

    async def open(self, count: int, talk: float) -> None:
        settings = self.hotline.settings
        self.engine = create_engine(settings.effective_database_url)
        self.consultants = Consultants(session_factory(self.engine), self.queues, now=lambda: WORKING_DAY)
        self.states = ConsultantStates(self.consultants, AmiClient(settings))
        await self.states.start()
        await asyncio.wait_for(self.states.restored.wait(), 60)
        async with self.consultants.sessions() as session, session.begin():
            for index in range(count):
                name = f"bench{index:02d}"
                session.add(
                    ConsoleUser(username=name, display_name=name, password_hash="x", role="consultant")
                )
        added = [
            await self.consultants.add(
                f"bench{index:02d}", site="centre", skills=[parse_skill(s) for s in skills_of(index)]
            )
            for index in range(count)
        ]
        phones = ConsultantPhones(self.consultants, self.hotline.etc(), settings)
        if not await phones.sync():
            raise RuntimeError("Asterisk did not reload the consultants' phones")
        for info, password in added:
            # One phone at a time: phone_ports() finds the ports free, so the previous phone holds its own.
            sip, ctrl, rtp = phone_ports()
            desk = Desk(
                info,
                SoftPhone(
                    self.folder / info.username,
                    user=info.sip_username,
                    password=password,
                    asterisk=(settings.sip_host, settings.sip_port),
                    sip_port=sip,
                    ctrl_port=ctrl,
                    rtp_ports=rtp,
                ),
            )
            self.desks.append(desk)
            try:
                await desk.phone.start()
            except PhoneError:
                print(
                    (desk.phone.folder / "baresip.log").read_text(errors="replace")[-2000:], file=sys.stderr
                )
                raise
        for desk in self.desks:
            await desk.phone.registered(timeout=60)
            desk.task = asyncio.create_task(desk.work(talk), name=f"desk-{desk.info.username}")

    async def add_plain_queues(self) -> None:
        """The plain flow's static queues, appended to the instance's queues and loaded by a reload."""
        path = self.hotline.etc() / "queues_hotline.conf"
        infos = [desk.info for desk in self.desks]
        write_private(path, path.read_text() + render_plain_queues(self.queues, infos))
        settings = self.hotline.settings
        await send_once(
            settings,
            actions.Reload(module="app_queue.so"),
            username=settings.ami_config_username,
            connect_timeout=10,
            action_timeout=30,
        )

    async def same_members(self, ami: AmiClient) -> None:
        """Check that each plain queue has the members, penalties and state interfaces of ours."""
        response = await ami.send(actions.QueueStatus(), timeout=30)
        members: dict[str, set[tuple[str, str, str]]] = {}
        for event in response.events:
            if event.get("Event") == "QueueMember":
                location = event.get("Location") or event.get("Interface") or ""
                if not location.startswith("PJSIP/c"):
                    raise RuntimeError(f"a queue member of {event.get('Queue')} without its interface")
                members.setdefault(event.get("Queue", ""), set()).add(
                    (location, event.get("Penalty", ""), event.get("StateInterface", ""))
                )
        for target in self.queues.asterisk_queues():
            ours, plain = members.get(target.name, set()), members.get(PLAIN_PREFIX + target.name, set())
            if ours != plain or not ours:
                raise RuntimeError(f"queue {target.name}: members {sorted(ours)} but plain {sorted(plain)}")
        count = sum(len(v) for v in members.values()) // 2
        progress(f"plain queues checked: the same {count} members as ours")

    async def log_in_all(self) -> None:
        assert self.states is not None
        for desk in self.desks:
            desk.info = await self.states.log_in(desk.info, source="console")

    async def close(self) -> None:
        for desk in self.desks:
            if desk.task is not None:
                desk.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await desk.task
            await desk.phone.stop()
        if self.states is not None:
            await self.states.close()
        if self.engine is not None:
            await self.engine.dispose()


# ============================================================================================ the callers


@dataclass
class Caller:
    number: str
    language: str
    calling_id: str
    started: float
    inbound_id: str | None = None
    joined: bool = False
    connects: int = 0
    connected_at: datetime | None = None
    ended_at: datetime | None = None
    lost: str | None = None
    calling_gone: asyncio.Event = field(default_factory=asyncio.Event)
    inbound_gone: asyncio.Event = field(default_factory=asyncio.Event)

    def lose(self, reason: str) -> None:
        if self.lost is None and self.connects == 0:
            self.lost = reason


@dataclass
class Round:
    flow: Flow
    plan: Plan
    callers: list[Caller] = field(default_factory=list)
    # Callers waiting, by the language of their queue (jobs-pl: "pl").
    waiting: Counter[str] = field(default_factory=Counter)
    # A phone's previous call ended: when, and how many callers it serves at the first routing step waited.
    free_since: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    gaps: list[float] = field(default_factory=list)
    pauses: list[float] = field(default_factory=list)
    rang_out: int = 0
    # Calls a phone was connected to while already on one (StateInterface should make it none).
    overlaps: int = 0
    # A phone answered -> Asterisk bridged it with the caller (AgentConnect).
    answer_to_connect: list[float] = field(default_factory=list)
    # Parts of "free -> next connected": free -> Asterisk rings the phone (DialBegin), rung -> answered.
    free_to_ring: list[float] = field(default_factory=list)
    ring_to_answer: list[float] = field(default_factory=list)
    first_connect: datetime | None = None
    last_end: datetime | None = None
    cpu: CpuUse = field(default_factory=CpuUse)
    seconds: float = 0.0

    @property
    def completed(self) -> int:
        return sum(1 for c in self.callers if c.connects >= 1 and c.ended_at is not None)

    @property
    def lost(self) -> list[Caller]:
        return [c for c in self.callers if c.lost is not None]

    @property
    def doubled(self) -> int:
        return sum(1 for c in self.callers if c.connects > 1)

    @property
    def talks(self) -> list[float]:
        """Seconds from connected to hung up, of each completed call."""
        return [
            (c.ended_at - c.connected_at).total_seconds()
            for c in self.callers
            if c.connected_at is not None and c.ended_at is not None
        ]

    @property
    def busy_seconds(self) -> float:
        if self.first_connect is None or self.last_end is None:
            return 0.0
        return (self.last_end - self.first_connect).total_seconds()


class Driver:
    """Places the callers and follows every leg over one AMI connection."""

    def __init__(self, settings: Settings, office: Office) -> None:
        self.settings = settings
        self.office = office
        self.ami = AmiClient(settings, action_timeout=30.0)
        self.by_calling: dict[str, Caller] = {}
        self.by_number: dict[str, Caller] = {}
        self.by_inbound: dict[str, Caller] = {}
        self.member_legs: dict[str, str] = {}  # a phone's channel (uniqueid) -> its queue member interface
        self.answered: dict[str, datetime] = {}  # a phone's channel (uniqueid) -> when the phone answered
        self.rung: dict[str, datetime] = {}  # a phone's channel (uniqueid) -> when Asterisk rang it
        # The callers' languages a consultant serves from the first second (the first routing step's reach).
        self.first_reach: dict[str, tuple[str, ...]] = {}
        self.round: Round | None = None
        self.numbers = itertools.count(1)
        # Every event of the connection to _apply, in order; the tasks it starts.
        self.service = AmiService(self.ami, "bench", self._handle, events="call,agent", queue_size=1_000_000)

    async def start(self) -> None:
        queues = self.office.queues
        for desk in self.office.desks:
            reach = queues.memberships(desk.info.skills)
            self.first_reach[desk.info.interface] = tuple(
                language
                for language in queues.languages
                if reach.get(queues.asterisk_name(TOPIC, language), 99) <= queues.initial_max_penalty
            )
        await self.service.start()
        await self.ami.wait_connected()
        await self.ami.events_asked()

    async def close(self) -> None:
        await self.service.close()

    async def _handle(self, event: AmiEvent) -> None:
        self._apply(event)

    def _apply(self, event: AmiEvent) -> None:
        r = self.round
        uid = event.uniqueid
        if isinstance(event, AgentRingNoAnswer):
            if r is not None:
                r.rang_out += 1
            self.service.spawn(self._available_again(event.interface), "available-again")
            return
        if isinstance(event, AgentConnect):
            caller = self.by_inbound.get(uid)
            if caller is None or r is None:
                return
            caller.connects += 1
            if caller.connected_at is None:
                caller.connected_at = event.at
            at = event.at
            if at is not None and (r.first_connect is None or at < r.first_connect):
                r.first_connect = at
            member_leg = event.fields.get("DestUniqueid", "")
            answered = self.answered.pop(member_leg, None)
            rung = self.rung.pop(member_leg, None)
            if answered is not None and at is not None:
                r.answer_to_connect.append((at - answered).total_seconds())
                if rung is not None:
                    r.ring_to_answer.append((answered - rung).total_seconds())
            if event.interface in self.member_legs.values():
                r.overlaps += 1
            if member_leg:
                self.member_legs[member_leg] = event.interface
            free = r.free_since.pop(event.interface, None)
            if free is not None and at is not None and free[1] >= r.plan.phones:
                r.gaps.append((at - free[0]).total_seconds())
                if rung is not None:
                    r.free_to_ring.append((rung - free[0]).total_seconds())
            return
        if event.name == "DialBegin" and event.fields.get("DestChannel", "").startswith("PJSIP/c"):
            if event.at is not None:
                self.rung[event.fields.get("DestUniqueid", "")] = event.at
            return
        if isinstance(event, Newstate) and event.state == 6 and event.channel.startswith("PJSIP/c"):
            if event.at is not None:
                self.answered[uid] = event.at
            return
        caller = self.by_calling.get(uid)
        if caller is not None:
            if isinstance(event, HangupEvent):
                del self.by_calling[uid]
                caller.calling_gone.set()
                if caller.inbound_id is None:
                    self.by_number.pop(caller.number, None)
                    caller.inbound_gone.set()
                caller.lose(f"calling leg ended ({event.cause_txt or event.cause})")
            return
        caller = self.by_inbound.get(uid)
        if caller is None:
            if isinstance(event, Newchannel) and event.context == "hotline":
                caller = self.by_number.pop(event.caller_id_num, None)
                if caller is not None:
                    caller.inbound_id = uid
                    self.by_inbound[uid] = caller
            elif isinstance(event, HangupEvent) and uid in self.member_legs:
                interface = self.member_legs.pop(uid)
                if r is not None and event.at is not None:
                    languages = self.first_reach.get(interface, ())
                    r.free_since[interface] = (event.at, sum(r.waiting[lang] for lang in languages))
            return
        if isinstance(event, QueueCallerJoin):
            caller.joined = True
            if r is not None:
                r.waiting[caller.language] += 1
                expected = f"{r.flow.prefix}{TOPIC}-{caller.language}"
                if event.queue != expected:
                    caller.lose(f"joined {event.queue}, not {expected}")
        elif isinstance(event, QueueCallerLeave):
            if r is not None:
                r.waiting[caller.language] -= 1
        elif isinstance(event, HangupEvent):
            del self.by_inbound[uid]
            caller.ended_at = event.at
            if r is not None and event.at is not None and caller.connects:
                if r.last_end is None or event.at > r.last_end:
                    r.last_end = event.at
            caller.inbound_gone.set()
            caller.lose(f"hung up by the hotline before a consultant ({event.cause_txt or event.cause})")

    async def _available_again(self, interface: str) -> None:
        """A phone let a call ring out: the hotline paused it (no_answer); the consultant comes back, as one
        would from the phone (*4), once the hotline has recorded the pause."""
        office = self.office
        assert office.consultants is not None and office.states is not None
        desk = next((d for d in office.desks if d.info.interface == interface), None)
        if desk is None:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            info = await office.consultants.get(desk.info.username)
            if info is not None and info.paused and info.pause_reason == NO_ANSWER:
                desk.info = await office.states.available(info, source="phone")
                return
            await asyncio.sleep(0.2)
        log.warning("%s rang out but no no-answer pause was recorded", desk.info.username)

    # -- one caller ------------------------------------------------------------------------------------------

    def new_caller(self, index: int) -> Caller:
        number = f"+48602{next(self.numbers):06d}"
        caller = Caller(number, language_of(index), f"bench-{secrets.token_hex(8)}", time.monotonic())
        self.by_calling[caller.calling_id] = caller
        self.by_number[number] = caller
        return caller

    async def run_caller(self, flow: Flow, caller: Caller, deadline: float) -> None:
        """Originate and wait until both legs are gone (the phone hangs up) or the round's deadline."""
        try:
            originate = originate_caller(
                flow.numbers[caller.language],
                caller=caller.number,
                channel_id=caller.calling_id,
                context=CALLER_CONTEXT,
                timeout_s=ORIGINATE_DEADLINE,
                name="Bench",
            )
            await self.ami.send(originate, timeout=ORIGINATE_DEADLINE)
        except AmiError as exc:
            caller.lose(f"originate: {exc}")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                await caller.calling_gone.wait()
                await caller.inbound_gone.wait()
        if not caller.inbound_gone.is_set():
            caller.lose("not connected within the round's deadline")
            with contextlib.suppress(AmiError):
                await self.ami.send(actions.Hangup(channel=caller.calling_id))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(END_DEADLINE):
                    await caller.calling_gone.wait()
                    await caller.inbound_gone.wait()
        self.by_calling.pop(caller.calling_id, None)
        self.by_number.pop(caller.number, None)
        if caller.inbound_id is not None:
            self.by_inbound.pop(caller.inbound_id, None)

    # -- pauses ----------------------------------------------------------------------------------------------

    async def pause_cycle(self, r: Round, stop: asyncio.Event) -> None:
        """One consultant after another: paused, then available again, every ``pause_interval`` seconds."""
        office = self.office
        assert office.states is not None
        if r.plan.pause_interval <= 0:
            return
        for desk in itertools.cycle(office.desks):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(r.plan.pause_interval):
                    await stop.wait()
            if stop.is_set():
                return
            try:
                if r.flow is OURS:
                    started = time.monotonic()
                    desk.info = await office.states.pause(desk.info, PAUSE_REASON, source="console")
                    between = time.monotonic()
                    desk.info = await office.states.available(desk.info, source="console")
                else:
                    started = time.monotonic()
                    await self.ami.send(
                        actions.QueuePause(interface=desk.info.interface, paused=True, reason=PAUSE_REASON)
                    )
                    between = time.monotonic()
                    await self.ami.send(actions.QueuePause(interface=desk.info.interface, paused=False))
                r.pauses += [between - started, time.monotonic() - between]
            except Exception as exc:
                log.warning("pause of %s failed: %s", desk.info.username, exc)

    async def run_round(self, flow: Flow, plan: Plan, meter: CpuMeter) -> Round:
        r = Round(flow, plan)
        self.round = r
        talk_time = plan.callers * (plan.talk + 3.0) / plan.phones
        deadline = time.monotonic() + plan.callers / plan.rate + 2 * talk_time + 60
        stop = asyncio.Event()
        pauses = asyncio.create_task(self.pause_cycle(r, stop), name="bench-pauses")
        cpu_start = meter.snapshot()
        started = time.monotonic()
        tasks = []
        for index in range(plan.callers):
            delay = started + index / plan.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            caller = self.new_caller(index)
            r.callers.append(caller)
            tasks.append(asyncio.create_task(self.run_caller(flow, caller, deadline)))
        await asyncio.gather(*tasks)
        r.seconds = time.monotonic() - started
        r.cpu = meter.since(cpu_start)
        stop.set()
        await pauses
        self.round = None
        return r


# ============================================================================================ the report


def percentile(values: Sequence[float], fraction: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def seconds_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def progress(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", flush=True)


def describe_round(r: Round) -> str:
    rate = 60 * r.completed / r.busy_seconds if r.busy_seconds else 0.0
    return (
        f"{r.flow.key:5}: {len(r.callers)} callers, {r.completed} completed in {r.busy_seconds:.1f} s"
        f" ({rate:.0f}/min), lost {len(r.lost)}, twice {r.doubled}, rang out {r.rang_out},"
        f" to a busy phone {r.overlaps}, talk min {seconds_text(percentile(r.talks, 0))},"
        f" free->ring p50 {seconds_text(percentile(r.free_to_ring, 0.5))}"
        f" p99 {seconds_text(percentile(r.free_to_ring, 0.99))},"
        f" ring->answer p50 {seconds_text(percentile(r.ring_to_answer, 0.5))}"
        f" p99 {seconds_text(percentile(r.ring_to_answer, 0.99))},"
        f" answer->connect p50 {seconds_text(percentile(r.answer_to_connect, 0.5))}"
        f" p99 {seconds_text(percentile(r.answer_to_connect, 0.99))},"
        f" free->next p50 {seconds_text(percentile(r.gaps, 0.5))}"
        f" p99 {seconds_text(percentile(r.gaps, 0.99))}"
        f" (n={len(r.gaps)}), pause p99 {seconds_text(percentile(r.pauses, 0.99))}; {r.cpu.text()}"
    )


def report(rounds: list[Round], plan: Plan) -> bool:
    """Both flows side by side; True when no caller was lost or connected twice."""
    by_flow = {key: [r for r in rounds if r.flow.key == key] for key in FLOWS}

    def per_minute(key: str) -> float | None:
        busy = sum(r.busy_seconds for r in by_flow[key])
        return 60 * sum(r.completed for r in by_flow[key]) / busy if busy else None

    def values(key: str, what: str) -> list[float]:
        return [v for r in by_flow[key] for v in getattr(r, what)]

    rows: list[tuple[str, str, str, str, str]] = []

    def row(metric: str, cells: tuple[str, str], ratio: str = "", goal: str = "") -> None:
        rows.append((metric, *cells, ratio, goal))

    def each(cell: Callable[[str], str]) -> tuple[str, str]:
        return cell(OURS.key), cell(PLAIN.key)

    def ratio(ours: float | None, plain: float | None) -> str:
        return "-" if ours is None or not plain else f"{ours / plain:.2f}"

    def sums(k: str) -> str:
        return f"{sum(len(r.callers) for r in by_flow[k])} / {sum(r.completed for r in by_flow[k])}"

    def samples(what: str) -> Callable[[str], str]:
        return lambda k: str(len(values(k, what)))

    def cpu_of(r: Round) -> Callable[[str], str]:
        return lambda k: r.cpu.text() if r.flow.key == k else ""

    o, p = per_minute(OURS.key), per_minute(PLAIN.key)
    row("rounds", each(lambda k: str(len(by_flow[k]))))
    row("callers / completed", each(sums))
    row("calls completed per minute", each(lambda k: f"{per_minute(k) or 0:.0f}"), ratio(o, p), ">= 0.90")
    for name, what in (("consultant free -> next connected", "gaps"), ("pause/unpause", "pauses")):
        for fraction in (0.5, 0.99):
            ours, plain = (percentile(values(k, what), fraction) for k in (OURS.key, PLAIN.key))
            row(
                f"{name} p{fraction * 100:.0f}",
                (seconds_text(ours), seconds_text(plain)),
                ratio(ours, plain) if what == "gaps" else "",
            )
        row(f"  ({name}: samples)", each(samples(what)))
        if what == "gaps":
            row(
                f"  ({name}: over {RETRY_LIKE:g} s, a retry of the queue)",
                each(lambda k: str(sum(1 for v in values(k, "gaps") if v > RETRY_LIKE))),
            )
    row("talk (connected -> hung up) p50", each(lambda k: seconds_text(percentile(values(k, "talks"), 0.5))))
    row("talk (connected -> hung up) min", each(lambda k: seconds_text(percentile(values(k, "talks"), 0))))
    row("phones that let a call ring out", each(lambda k: str(sum(r.rang_out for r in by_flow[k]))))
    row("calls put to a phone already on one", each(lambda k: str(sum(r.overlaps for r in by_flow[k]))))
    lost = {k: [c for r in by_flow[k] for c in r.lost] for k in FLOWS}
    doubled = {k: sum(r.doubled for r in by_flow[k]) for k in FLOWS}
    row("callers lost", each(lambda k: str(len(lost[k]))), "", "0")
    row("callers connected twice", each(lambda k: str(doubled[k])), "", "0")
    for index, r in enumerate(rounds, 1):
        row(f"CPU, round {index} ({r.flow.key})", each(cpu_of(r)))
    print("pause/unpause: ours through ConsultantStates (database + AMI), plain the bare AMI QueuePause")

    headers = ("metric", OURS.label, PLAIN.label, "ours/plain", "goal")
    widths = [max(len(x[i]) for x in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print(line)
    for x in rows:
        print("  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)).rstrip())
    print(line)
    for key in FLOWS:
        reasons = Counter(c.lost for c in lost[key])
        for reason, count in reasons.most_common(5):
            print(f"{key}: lost {count}: {reason}")
    return not any(lost.values()) and not any(doubled.values())


async def bench(plan: Plan, smoke: bool, folder: Path, log_file: IO[bytes]) -> int:
    started = time.monotonic()
    others = await machine_busy()
    print(f"machine busy before the run: {others:.0f}% of one core (of {100 * (os.cpu_count() or 1)}%)")
    queues = Queues.load(bench_queues(folder))
    print(f"starting the hotline (Asterisk sandbox, FastAGI, AMI listener); log: {log_file.name}", flush=True)
    hotline = await HotlineProcess.spawn(
        hotline_settings(folder / "state", folder / "queues.yaml"), log_file, lifetime=SERVER_LIFETIME
    )
    office = Office(hotline, queues, folder / "phones")
    driver = Driver(hotline.settings, office)
    rounds: list[Round] = []
    try:
        progress(f"{plan.phones} consultants and their phones")
        await office.open(plan.phones, plan.talk)
        await office.add_plain_queues()
        await office.log_in_all()
        await driver.start()
        # The plain flow's queue, rule and starting penalty: as ours (dialplans/bench.conf).
        for variable, value in (
            ("HOTLINE_BENCH_PLAIN_TOPIC", f"{PLAIN_PREFIX}{TOPIC}"),
            ("HOTLINE_BENCH_RULE", RULE_NAME),
            ("HOTLINE_BENCH_MAX_PENALTY", str(queues.initial_max_penalty)),
        ):
            await driver.ami.send(actions.Setvar(variable=variable, value=value))
        await office.same_members(driver.ami)
        meter = CpuMeter(
            {
                "ast": [hotline.asterisk_pid()],
                "py": [hotline.process.pid],
                "drv": [os.getpid()],
                "phones": [desk.phone.pid for desk in office.desks],
            }
        )
        progress(f"phones registered, consultants logged in; rounds: {', '.join(plan.rounds)}")
        for key in plan.rounds:
            r = await driver.run_round(FLOWS[key], plan, meter)
            rounds.append(r)
            progress(describe_round(r))
            await asyncio.sleep(1.0)  # the last hang-ups settle
    finally:
        await driver.close()
        await office.close()
        errors = hotline.asterisk_errors()
        await hotline.stop()
    print(
        f"\nQueue benchmark ({'smoke' if smoke else 'full'}): {plan.callers} callers a round at"
        f" {plan.rate:g}/s, {plan.phones} baresip phones answering, talking {plan.talk:g} s, wrap-up 0;"
        f" a pause and an unpause every {plan.pause_interval:g} s; {os.cpu_count()} cores."
        "\nCPU: percent of one core (ast = Asterisk, py = hotline process, drv = this driver,"
        " phones = all baresip, all = machine)."
    )
    correct = report(rounds, plan)
    print(f"Asterisk logged {len(errors)} ERROR lines" + "".join(f"\n  {line}" for line in errors[:5]))
    print(f"run took {time.monotonic() - started:.0f} s")
    print(
        f"{'SMOKE' if smoke else 'RUN'} {'PASS' if correct else 'FAIL'}: no caller lost or connected twice"
        if correct
        else f"{'SMOKE' if smoke else 'RUN'} FAIL: callers lost or connected twice"
    )
    return 0 if correct else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="20 callers, 4 phones; exit 1 on a lost caller")
    parser.add_argument("--callers", type=int, help="callers a round")
    parser.add_argument("--phones", type=int, help="consultants with a phone")
    parser.add_argument("--talk", type=float, help="seconds a phone talks")
    parser.add_argument("--rounds", help="flows in order, e.g. ours,plain")
    parser.add_argument("--pause-interval", type=float, help="seconds between pause/unpause pairs (0: none)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the Asterisk sandbox runs under chroot: run this benchmark as root", file=sys.stderr)
        return 2
    if shutil.which("baresip") is None:
        print("baresip (Debian baresip-core) is needed for the consultants' phones", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    raise_fd_limit(16384)
    plan = SMOKE if args.smoke else FULL
    changes: dict[str, Any] = {}
    if args.callers:
        changes["callers"] = args.callers
    if args.phones:
        changes["phones"] = args.phones
    if args.talk:
        changes["talk"] = args.talk
    if args.pause_interval is not None:
        changes["pause_interval"] = args.pause_interval
    if args.rounds:
        changes["rounds"] = tuple(k for k in args.rounds.split(",") if k)
        if not set(changes["rounds"]) <= set(FLOWS):
            parser.error(f"--rounds: flows are {', '.join(FLOWS)}")
    if changes:
        plan = replace(plan, **changes)
    with (
        tempfile.TemporaryDirectory(prefix="queue-load-") as tmp,
        open(Path(tmp) / "hotline.log", "wb") as log_file,
    ):
        return asyncio.run(bench(plan, args.smoke, Path(tmp), log_file))


if __name__ == "__main__":
    sys.exit(main())
