"""Real SIP calls through the 19524 IVR on the real Asterisk 22, against the same call flow done by a plain
dialplan menu (``dialplans/bench.conf``, Background/WaitExten, same prompts), in the same run.

    .venv/bin/python bench/ivr_calls.py            # full run, about 6 minutes
    .venv/bin/python bench/ivr_calls.py --rates 60,80 --holds ''   # just these rate steps
    .venv/bin/python bench/ivr_calls.py --smoke    # a few calls per flow; exit 1 if OUR flow failed any

Needs root (the Asterisk sandbox runs under chroot). Everything stays on 127.0.0.1. The hotline (Asterisk,
our FastAGI server, the AMI listener, a temporary SQLite database, the clock pinned to a working day) runs in
a subprocess, as in production (``bench/hotline_process.py``); this process is only the callers: one AMI
connection for originates and events (filtered to what it follows), a few more for the keys (AMI PlayDTMF
blocks its connection for the key's duration).

A call: AMI Originate over the loopback SIP trunk (the calling leg echoes what it hears, so RTP flows both
ways) -> the inbound leg is answered by the flow under test -> "1" (Polish) is pressed as soon as the
greeting starts, "0" (consultant) as soon as the main menu starts, both typed ahead over RFC 4733 -> the
caller joins the ``consultant`` queue (QueueCallerJoin) -> hang up. Failed: not in the queue within
``SETUP_DEADLINE``, hung up before, a dialplan fallback of the AGI, or a menu path other than
greeting -> main menu -> transfer (a key lost). Setup latency: originate sent -> queue joined (it includes the
non-interruptible 4.7 s ``transfer`` prompt, in both flows).

Steps, each flow in turn at the same level:
  rate   new calls per second R for RATE_SECONDS (each call hangs up once queued): failures, setup p50/p95.
         Sustained = < 0.1 % failed and setup p95 within LATENCY_SLACK of the flow's single-call latency.
  hold   N calls launched at HOLD_RATE per second, all held in the queue together for HOLD_SECONDS, then
         hung up: failures (including any call dropped while held).
A flow's ramp stops at its first step that misses. CPU is sampled per step: Asterisk, the hotline process
(FastAGI + AMI listener), this driver, and the whole machine (2 cores = 200 %).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import secrets
import shlex
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hotline_process import CpuMeter, CpuUse, HotlineProcess, machine_busy

from devtools.testcall import originate_caller
from hotline.ami import (
    AgiExec,
    AmiClient,
    AmiError,
    AmiEvent,
    AmiService,
    Hangup,
    Newchannel,
    Newexten,
    QueueCallerJoin,
    UserEvent,
    actions,
)
from hotline.settings import Settings, free_ports
from launcher.runner import raise_fd_limit

log = logging.getLogger("bench.ivr_calls")

# A working Wednesday, 10:00 in Warsaw: the menu routes "0" to the consultant queue.
SERVER_LIFETIME = 900  # seconds: a hotline subprocess left behind by a crashed run stops by itself

CALLER_CONTEXT = "hotline-bench-caller"
QUEUE = "consultant"
# The Asterisk queue a Polish caller of that topic waits in (hotline/queues.yaml: one per topic and language).
ASTERISK_QUEUE = f"{QUEUE}-pl"
# (digit, the prompt whose start is the moment to press it): both typed ahead.
KEYS = (("1", "greeting"), ("0", "main_menu"))
# The first prompt of each play command of a clean call, in both flows.
EXPECTED_PATH = ("greeting", "main_menu", "transfer")
PLAY_APPS = frozenset({"background", "playback"})  # as AMI spells them: "BackGround"
PLAY_COMMANDS = frozenset({"STREAM FILE", "CONTROL STREAM FILE", "GET OPTION", "GET DATA"})
DTMF_MS = 100  # Asterisk's minimum; PlayDTMF holds its AMI connection this long
DTMF_CONNECTIONS = 12
SETUP_DEADLINE = 20.0  # originate -> queue joined
END_DEADLINE = 15.0  # hang-up sent -> both legs gone
LATENCY_SLACK = 1.5  # seconds of setup p95 over the single-call latency still counted as sustained
FAILURE_LIMIT = 0.001  # < 0.1 % failed calls
RTP_PORTS = (30000, 39998)  # 4 ports a call (RTP + RTCP, two legs): room for thousands, picked at random


@dataclass(frozen=True)
class Flow:
    key: str
    label: str
    number: str


OURS = Flow("ivr", "AGI IVR (ours)", "19524")
PLAIN = Flow("plain", "plain dialplan", "19599")
FLOWS = (OURS, PLAIN)


@dataclass(frozen=True)
class Plan:
    rates: tuple[int, ...]
    rate_seconds: float
    holds: tuple[int, ...]
    hold_rate: float
    hold_seconds: float
    budget: float  # seconds for the whole ramp; steps past it are skipped


FULL = Plan(
    rates=(20, 40, 60, 70, 80, 90, 100, 120),
    rate_seconds=8.0,
    holds=(25, 50, 100, 150, 200, 250),
    hold_rate=20.0,
    hold_seconds=3.0,
    budget=420.0,
)
SMOKE = Plan(rates=(3,), rate_seconds=2.0, holds=(4,), hold_rate=4.0, hold_seconds=1.0, budget=60.0)


# ============================================================================================ the hotline


def hotline_settings(state_dir: Path) -> dict[str, Any]:
    return {
        "state_dir": str(state_dir),
        "database_url": f"sqlite+aiosqlite:///{state_dir / 'bench.sqlite3'}",
        "asterisk_instance": f"bench-{os.getpid()}",
        **free_ports(),
        "rtp_start": RTP_PORTS[0],
        "rtp_end": RTP_PORTS[1],
        "extra_dialplans": "bench.conf",
    }


# ============================================================================================ the calls


@dataclass
class Call:
    flow: Flow
    caller: str
    calling_id: str
    started: float
    inbound_id: str | None = None
    path: list[str] = field(default_factory=list)
    keys_sent: int = 0
    joined: float | None = None
    failure: str | None = None
    held: bool = False  # the hold step is waiting with this call in the queue
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    calling_gone: asyncio.Event = field(default_factory=asyncio.Event)
    inbound_gone: asyncio.Event = field(default_factory=asyncio.Event)

    def fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
        self.settled.set()

    @property
    def latency(self) -> float | None:
        return None if self.joined is None else self.joined - self.started


def first_prompt(event: AmiEvent) -> str | None:
    """The first prompt a play command or application starts with, as a bare prompt id."""
    if isinstance(event, AgiExec):
        if event.phase != "start":
            return None  # each command is announced twice (start and end): count it once
        try:
            words = shlex.split(event.command)
        except ValueError:
            words = event.command.split()
        upper = [w.upper() for w in words]
        for size in (3, 2):
            if " ".join(upper[:size]) in PLAY_COMMANDS and len(words) > size:
                return words[size].rsplit("/", 1)[-1]
        return None
    if isinstance(event, Newexten) and event.application.lower() in PLAY_APPS and event.app_data:
        return event.app_data.split("&", 1)[0].split(",", 1)[0].rsplit("/", 1)[-1]
    return None


class Driver:
    """Places calls and follows them: one AMI event stream routed to per-call state."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events_ami = AmiClient(settings, action_timeout=30.0)
        self.key_amis = [AmiClient(settings) for _ in range(DTMF_CONNECTIONS)]
        self.free_key_amis: asyncio.Queue[AmiClient] = asyncio.Queue()
        self.by_calling: dict[str, Call] = {}
        self.by_caller: dict[str, Call] = {}
        self.by_inbound: dict[str, Call] = {}
        self.numbers = itertools.count(1)
        # Every event of the connection to _apply, in order; the key presses' tasks.
        self.service = AmiService(
            self.events_ami, "bench", self._handle, owns_connection=False, queue_size=1_000_000
        )

    async def start(self, sounds_dir: str) -> None:
        for ami in (self.events_ami, *self.key_amis):
            await ami.start()
        for ami in (self.events_ami, *self.key_amis):
            await ami.wait_connected()
        for ami in self.key_amis:
            await ami.send(actions.Events(mask="off"))
            self.free_key_amis.put_nowait(ami)
        # The plain-dialplan menu reads the prompts' folder from this global (dialplans/bench.conf).
        await self.events_ami.send(actions.Setvar(variable="HOTLINE_BENCH_SOUNDS", value=sounds_dir))
        await self.service.start()

    async def close(self) -> None:
        await self.service.close()
        for ami in (self.events_ami, *self.key_amis):
            await ami.close()

    # -- events ----------------------------------------------------------------------------------------------

    async def _handle(self, event: AmiEvent) -> None:
        self._apply(event)

    def _apply(self, event: AmiEvent) -> None:
        uid = event.uniqueid
        call = self.by_calling.get(uid)
        if call is not None:
            if isinstance(event, Hangup):
                del self.by_calling[uid]
                call.calling_gone.set()
                if call.inbound_id is None:
                    self.by_caller.pop(call.caller, None)
                    call.inbound_gone.set()
                if not call.settled.is_set():
                    call.fail(f"calling leg ended ({event.cause_txt or event.cause})")
            return
        call = self.by_inbound.get(uid)
        if call is None:
            if isinstance(event, Newchannel) and event.context == "hotline":
                call = self.by_caller.pop(event.caller_id_num, None)
                if call is not None:
                    call.inbound_id = uid
                    self.by_inbound[uid] = call
            return
        if isinstance(event, QueueCallerJoin):
            if call.joined is None:
                call.joined = time.monotonic()
            if event.queue != ASTERISK_QUEUE:
                call.fail(f"joined queue {event.queue}")
            elif tuple(call.path) != EXPECTED_PATH:
                call.fail("menu path " + ">".join(call.path))
            call.settled.set()
        elif isinstance(event, Hangup):
            del self.by_inbound[uid]
            call.inbound_gone.set()
            if call.held:
                call.fail("dropped while held")
            elif not call.settled.is_set():
                call.fail(f"hung up before the queue ({event.cause_txt or event.cause})")
        elif isinstance(event, UserEvent) and event.user_event != "HotlineCallEntered":
            call.fail(f"dialplan {event.user_event}")
        else:
            prompt = first_prompt(event)
            if prompt is None:
                return
            call.path.append(prompt)
            if call.keys_sent < len(KEYS) and prompt == KEYS[call.keys_sent][1]:
                digit = KEYS[call.keys_sent][0]
                call.keys_sent += 1
                self.service.spawn(self._press(call, digit), f"press-{digit}")

    async def _press(self, call: Call, digit: str) -> None:
        ami = await self.free_key_amis.get()
        try:
            # Waiting for the digit ("Async: false") spares panoramisk a KeyError on the "DTMF successfully
            # queued" reply.
            await ami.send(actions.PlayDtmf(channel=call.calling_id, digit=digit, duration_ms=DTMF_MS))
        except AmiError as exc:
            call.fail(f"key not sent: {exc}")
        finally:
            self.free_key_amis.put_nowait(ami)

    async def _hang_up(self, call: Call) -> None:
        ami = await self.free_key_amis.get()
        try:
            with contextlib.suppress(AmiError):
                await ami.send(actions.Hangup(channel=call.calling_id))
        finally:
            self.free_key_amis.put_nowait(ami)

    # -- one call --------------------------------------------------------------------------------------------

    def new_call(self, flow: Flow) -> Call:
        caller = f"+48601{next(self.numbers):06d}"  # unique: never a "returning caller"
        call = Call(flow, caller, f"bench-{secrets.token_hex(8)}", time.monotonic())
        self.by_calling[call.calling_id] = call
        self.by_caller[caller] = call
        return call

    async def run_call(self, call: Call, release: asyncio.Event | None = None) -> Call:
        """Originate, await the queue (or a failure), hold until ``release`` if given, hang up."""
        try:
            originate = originate_caller(
                call.flow.number,
                caller=call.caller,
                channel_id=call.calling_id,
                context=CALLER_CONTEXT,
                timeout_s=SETUP_DEADLINE,
                name="Bench",
            )
            await self.events_ami.send(originate, timeout=SETUP_DEADLINE)
        except AmiError as exc:
            call.fail(f"originate: {exc}")
        remaining = call.started + SETUP_DEADLINE - time.monotonic()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(remaining, 0.0)):
                await call.settled.wait()
        if not call.settled.is_set():
            call.fail("not in the queue within the deadline")
        if release is not None and call.failure is None:
            call.held = True
            await release.wait()
            call.held = False
        await self._hang_up(call)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(END_DEADLINE):
                await call.calling_gone.wait()
                await call.inbound_gone.wait()
        self.by_calling.pop(call.calling_id, None)
        self.by_caller.pop(call.caller, None)
        if call.inbound_id is not None:
            self.by_inbound.pop(call.inbound_id, None)
        return call


# ============================================================================================ the steps


@dataclass
class Step:
    flow: Flow
    kind: str  # "rate" | "hold" | "single"
    level: float
    calls: list[Call] = field(default_factory=list)
    seconds: float = 0.0
    achieved_rate: float = 0.0
    held: int = 0
    cpu: CpuUse = field(default_factory=CpuUse)

    @property
    def failures(self) -> Counter[str]:
        return Counter(c.failure for c in self.calls if c.failure is not None)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def failure_rate(self) -> float:
        return self.failed / len(self.calls) if self.calls else 1.0

    def latency(self, fraction: float) -> float | None:
        values = sorted(c.latency for c in self.calls if c.latency is not None and c.failure is None)
        if not values:
            return None
        return values[min(len(values) - 1, int(fraction * len(values)))]

    def failures_text(self) -> str:
        if not self.failed:
            return "0"
        top = ", ".join(f"{reason}: {n}" for reason, n in self.failures.most_common(3))
        return f"{self.failed} ({top})"


async def rate_step(driver: Driver, meter: CpuMeter, flow: Flow, rate: int, seconds: float) -> Step:
    """New calls at ``rate`` per second for ``seconds``, each hung up once queued; returns when all ended."""
    count = max(2, round(rate * seconds))
    cpu_start = meter.snapshot()
    started = time.monotonic()
    tasks: list[asyncio.Task[Call]] = []
    for i in range(count):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(driver.run_call(driver.new_call(flow))))
    launched = time.monotonic() - started
    step = Step(flow, "rate", rate)
    step.achieved_rate = (count - 1) / launched if launched > 0 else float(rate)
    step.calls = list(await asyncio.gather(*tasks))
    step.seconds = time.monotonic() - started
    step.cpu = meter.since(cpu_start)
    return step


async def hold_step(driver: Driver, meter: CpuMeter, flow: Flow, count: int, plan: Plan) -> Step:
    """``count`` calls in the queue at once, held ``hold_seconds`` (CPU measured then), then hung up."""
    release = asyncio.Event()
    started = time.monotonic()
    calls: list[Call] = []
    tasks: list[asyncio.Task[Call]] = []
    for i in range(count):
        delay = started + i / plan.hold_rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        call = driver.new_call(flow)
        calls.append(call)
        tasks.append(asyncio.create_task(driver.run_call(call, release)))
    step = Step(flow, "hold", count)
    step.achieved_rate = (count - 1) / max(time.monotonic() - started, 1e-6)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SETUP_DEADLINE + 1):
            await asyncio.gather(*(c.settled.wait() for c in calls))
    cpu_start = meter.snapshot()
    await asyncio.sleep(plan.hold_seconds)
    step.cpu = meter.since(cpu_start)
    step.held = sum(1 for c in calls if c.held and c.failure is None)
    release.set()
    step.calls = list(await asyncio.gather(*tasks))
    step.seconds = time.monotonic() - started
    return step


async def single_call(driver: Driver, flow: Flow) -> Step:
    call = await driver.run_call(driver.new_call(flow))
    return Step(flow, "single", 1, calls=[call])


def sustained(step: Step, baseline: float | None) -> bool:
    p95 = step.latency(0.95)
    if step.failure_rate >= FAILURE_LIMIT or p95 is None or baseline is None:
        return False
    return p95 <= baseline + LATENCY_SLACK and step.achieved_rate >= 0.95 * step.level


def passed(step: Step, results: Results) -> bool:
    """A ramp step the flow passed: a rate sustained, or a hold with every call held and none failed."""
    if step.kind == "rate":
        return sustained(step, results.baseline(step.flow))
    return not step.failed and step.held >= step.level


# ============================================================================================ the run


@dataclass
class Results:
    singles: dict[str, Step] = field(default_factory=dict)
    rates: list[Step] = field(default_factory=list)
    holds: list[Step] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def baseline(self, flow: Flow) -> float | None:
        single = self.singles.get(flow.key)
        return None if single is None or single.failed else single.latency(0.5)

    def steps(self, flow: Flow) -> list[Step]:
        return [s for s in (*self.singles.values(), *self.rates, *self.holds) if s.flow == flow]

    def ramp(self, kind: str) -> list[Step]:
        return self.rates if kind == "rate" else self.holds


def progress(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", flush=True)


def describe_step(step: Step) -> str:
    p50, p95 = step.latency(0.5), step.latency(0.95)
    times = "-" if p50 is None or p95 is None else f"setup p50 {p50:.2f} s p95 {p95:.2f} s"
    held = f", held {step.held}" if step.kind == "hold" else ""
    return (
        f"{step.flow.key:5} {step.kind} {step.level:g}: {len(step.calls)} calls,"
        f" failed {step.failures_text()}{held}, {times}, {step.cpu.text()}"
    )


async def run_plan(driver: Driver, meter: CpuMeter, plan: Plan, *, parallel: bool) -> Results:
    """The single calls, then the rate ramp, then the hold ramp; ``parallel`` (smoke): both flows at once."""
    results = Results()
    deadline = time.monotonic() + plan.budget

    async def each_flow(flows: Sequence[Flow], make: Any) -> list[Step]:
        if parallel:
            return list(await asyncio.gather(*(make(flow) for flow in flows)))
        steps = []
        for flow in flows:
            steps.append(await make(flow))
            await asyncio.sleep(0.5)  # let Asterisk finish the last hang-ups
        return steps

    for step in await each_flow(FLOWS, lambda flow: single_call(driver, flow)):
        results.singles[step.flow.key] = step
        call = step.calls[0]
        progress(
            f"{step.flow.key:5} single call: {call.failure or 'queued'}, path {'>'.join(call.path) or '-'}"
        )

    async def ramp(
        kind: str, levels: Sequence[float], label: str, make: Callable[[Flow, float], Awaitable[Step]]
    ) -> None:
        """Each level in turn for the flows still in the ramp; a flow leaves it at its first miss."""
        active = [flow for flow in FLOWS if results.baseline(flow) is not None]
        for level in levels:
            if not active:
                break
            if time.monotonic() > deadline:
                results.skipped.append(f"{label.format(level)} and up: over the time budget")
                break
            for step in await each_flow(active, lambda flow, level=level: make(flow, level)):
                results.ramp(kind).append(step)
                progress(describe_step(step))
                if not passed(step, results):
                    active.remove(step.flow)

    await ramp(
        "rate",
        plan.rates,
        "rate {:g}/s",
        lambda flow, rate: rate_step(driver, meter, flow, int(rate), plan.rate_seconds),
    )
    await ramp(
        "hold", plan.holds, "hold {:g}", lambda flow, count: hold_step(driver, meter, flow, int(count), plan)
    )
    return results


def best_level(
    results: Results, flow: Flow, kind: str, levels: Sequence[float], unit: str = ""
) -> tuple[float | None, str]:
    """The highest level of a ramp the flow passed, and its text ("60+/s" when it passed the ramp's top)."""
    passed_levels = [s.level for s in results.ramp(kind) if s.flow == flow and passed(s, results)]
    if not passed_levels:
        return None, "none"
    best = max(passed_levels)
    return best, f"{best:g}{'+' if best == max(levels) else ''}{unit}"


def ms_or_dash(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def report(results: Results, plan: Plan) -> bool:
    """Print the table: both flows side by side, the ratio, PASS/FAIL per target; True if ours met them."""
    rows: list[tuple[str, ...]] = []
    verdicts: list[bool] = []

    def row(
        metric: str, ours: str, plain: str, ratio: str = "", target: str = "", ok: bool | None = None
    ) -> None:
        if ok is not None:
            verdicts.append(ok)
        rows.append((metric, ours, plain, ratio, target, "" if ok is None else ("PASS" if ok else "FAIL")))

    def pair(steps: list[Step], kind: str, level: float) -> tuple[Step | None, Step | None]:
        found = {s.flow.key: s for s in steps if s.kind == kind and s.level == level}
        return found.get(OURS.key), found.get(PLAIN.key)

    def cell(step: Step | None, text: Any) -> str:
        return "-" if step is None else str(text(step))

    def ratio(ours: float | None, plain: float | None) -> str:
        return "-" if ours is None or not plain else f"{ours / plain:.2f}"

    o, p = results.singles.get(OURS.key), results.singles.get(PLAIN.key)
    row(
        "single call: setup (originate -> queue)",
        cell(o, lambda s: s.failures_text() if s.failed else ms_or_dash(s.latency(0.5))),
        cell(p, lambda s: s.failures_text() if s.failed else ms_or_dash(s.latency(0.5))),
    )
    for level in plan.rates:
        o, p = pair(results.rates, "rate", level)
        if o is None and p is None:
            continue
        label = f"rate {level:g}/s x {plan.rate_seconds:g} s"
        row(
            f"{label}: calls / failed",
            *(cell(s, lambda s: f"{len(s.calls)} / {s.failures_text()}") for s in (o, p)),
        )
        row(
            f"{label}: setup p50 / p95",
            *(
                cell(s, lambda s: f"{ms_or_dash(s.latency(0.5))} / {ms_or_dash(s.latency(0.95))}")
                for s in (o, p)
            ),
        )
        row(f"{label}: achieved rate", *(cell(s, lambda s: f"{s.achieved_rate:.1f}/s") for s in (o, p)))
        row(f"{label}: CPU", *(cell(s, lambda s: s.cpu.text()) for s in (o, p)))
        row(
            f"{label}: sustained",
            *(cell(s, lambda s: "yes" if passed(s, results) else "no") for s in (o, p)),
        )
    for level in plan.holds:
        o, p = pair(results.holds, "hold", level)
        if o is None and p is None:
            continue
        label = f"hold {level:g} in queue"
        row(
            f"{label}: held / failed", *(cell(s, lambda s: f"{s.held} / {s.failures_text()}") for s in (o, p))
        )
        row(f"{label}: setup p95", *(cell(s, lambda s: ms_or_dash(s.latency(0.95))) for s in (o, p)))
        row(f"{label}: CPU while held", *(cell(s, lambda s: s.cpu.text()) for s in (o, p)))

    our_rate, our_rate_text = best_level(results, OURS, "rate", plan.rates, "/s")
    plain_rate, plain_rate_text = best_level(results, PLAIN, "rate", plan.rates, "/s")
    row(
        "sustained new calls per second",
        our_rate_text,
        plain_rate_text,
        ratio(our_rate, plain_rate),
        ">= 20/s",
        our_rate is not None and our_rate >= 20,
    )
    rate_ratio = None if our_rate is None or not plain_rate else our_rate / plain_rate
    row(
        "calls per second, ours / plain",
        "",
        "",
        ratio(our_rate, plain_rate),
        ">= 0.90",
        rate_ratio is not None and rate_ratio >= 0.9 - 1e-9,
    )
    our_hold, our_hold_text = best_level(results, OURS, "hold", plan.holds)
    plain_hold, plain_hold_text = best_level(results, PLAIN, "hold", plan.holds)
    row(
        "concurrent calls held, 0 failed",
        our_hold_text,
        plain_hold_text,
        ratio(our_hold, plain_hold),
        ">= 100",
        our_hold is not None and our_hold >= 100,
    )
    totals = {}
    for flow in FLOWS:
        steps = results.steps(flow)
        calls = sum(len(s.calls) for s in steps)
        failed = sum(s.failed for s in steps)
        totals[flow.key] = (calls, failed)
    row(
        "all calls / failed (incl. the steps past the limit)",
        *(f"{c} / {f}" for c, f in (totals[OURS.key], totals[PLAIN.key])),
    )

    headers = ("step / metric", OURS.label, PLAIN.label, "ours/plain", "target", "ours")
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print(line)
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print(line)
    for note in results.skipped:
        print(f"skipped: {note}")
    return all(verdicts)


async def bench(plan: Plan, smoke: bool, log_file: IO[bytes], state_dir: Path) -> int:
    started = time.monotonic()
    others = await machine_busy()
    # Anything else busy on the machine (tests, other benchmarks) skews the figures: say so up front.
    print(f"machine busy before the run: {others:.0f}% of one core (of {100 * (os.cpu_count() or 1)}%)")
    print(f"starting the hotline (Asterisk sandbox, FastAGI, AMI listener); log: {log_file.name}", flush=True)
    hotline = await HotlineProcess.spawn(hotline_settings(state_dir), log_file, lifetime=SERVER_LIFETIME)
    driver = Driver(hotline.settings)
    try:
        await driver.start(hotline.sounds_dir)
        meter = CpuMeter({"ast": [hotline.asterisk_pid()], "py": [hotline.process.pid], "drv": [os.getpid()]})
        results = await run_plan(driver, meter, plan, parallel=smoke)
    finally:
        await driver.close()
        await hotline.stop()
    mode = "smoke" if smoke else "full"
    print(
        f"\nIVR calls benchmark ({mode}): real SIP calls on Asterisk 22 over the loopback trunk,"
        f" keys 1 then 0 typed ahead, to the {QUEUE} queue; {os.cpu_count()} cores;"
        f" deadline {SETUP_DEADLINE:g} s;"
        f" sustained = < {FAILURE_LIMIT:.1%} failed and setup p95 <= single call + {LATENCY_SLACK:g} s."
        "\nCPU: percent of one core (ast = Asterisk, py = hotline process, drv = this driver, all = machine)."
    )
    passed = report(results, plan)
    print(f"run took {time.monotonic() - started:.0f} s")
    our_failed = sum(s.failed for s in results.steps(OURS))
    if smoke:
        print(f"SMOKE {'PASS' if our_failed == 0 else 'FAIL'}: our flow had {our_failed} failed calls")
        return 0 if our_failed == 0 else 1
    print(f"OVERALL {'PASS' if passed else 'FAIL'} (targets apply to our flow)")
    return 0 if passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a handful of calls; exit 1 if our flow failed any"
    )
    parser.add_argument(
        "--rates", help="the rate ramp instead of the plan's, e.g. 30,40 (new calls per second)"
    )
    parser.add_argument("--holds", help="the hold ramp instead of the plan's, e.g. 100,200 ('' for none)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the Asterisk sandbox runs under chroot: run this benchmark as root", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    raise_fd_limit(16384)
    plan = SMOKE if args.smoke else FULL
    if args.rates is not None:
        plan = dataclasses.replace(plan, rates=tuple(int(r) for r in args.rates.split(",") if r))
    if args.holds is not None:
        plan = dataclasses.replace(plan, holds=tuple(int(h) for h in args.holds.split(",") if h))
    with (
        tempfile.TemporaryDirectory(prefix="ivr-calls-") as tmp,
        open(Path(tmp) / "hotline.log", "wb") as log_file,
    ):
        code = asyncio.run(bench(plan, args.smoke, log_file, Path(tmp)))
        if code and not args.smoke:
            print(f"(hotline log kept only for the run: {log_file.name})")
        return code


if __name__ == "__main__":
    sys.exit(main())
