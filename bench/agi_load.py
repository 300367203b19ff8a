"""FastAGI load benchmark: our `FastAgiServer` against panoramisk's `fast_agi.Application`, side by side.

    .venv/bin/python bench/agi_load.py            # full run, a couple of minutes at most
    .venv/bin/python bench/agi_load.py --smoke    # tiny run for CI: exit 1 if OUR server had errors

Each server runs in its own subprocess (the machine has 2 cores: one for the server, one for this load
generator), on 127.0.0.1, port chosen by the kernel. Simulated Asterisk channels send a FastAGI header, then
answer each command after a 100 ms "Asterisk-side" delay. The route is the same on both servers, with the
same bytes on the wire: ANSWER, GET VARIABLE, STREAM FILE, SET VARIABLE, VERBOSE.

Added latency = time from a channel sending its reply (or its header) to receiving the next command: the
time the server adds to a call. Server CPU / session = CPU time of the server process (user + system) over
the pass, divided by the sessions of the pass. The "ours/pano" column is ours divided by panoramisk's: below
1.00x, ours is lower.

Scenarios:
  S1   300 concurrent channels, each placing calls back to back    p50 / p99 added latency, target p99 <= 5 ms
  S3   S1 while 1,000 bad connections are held open (half-sent headers, garbage, silence)
                                                                  p99 vs S1's, target <= 2x
  S3+  20 calls once those bad connections have closed (FIN)       errors, target 0
  S2   2,000 calls held at once (each waits after ANSWER until all are answered)   errors, target 0
  S4   on a fresh server: ONE connection sends half a header and closes, then 20 calls   errors, target 0
S1 and S3 passes, and then S2 passes on fresh servers, are interleaved (the S1 and S2 pairs in alternating
order) so that noise from elsewhere on the machine falls on both alike; panoramisk gets one S3 pass, the
last, because closing half-sent headers leaves it spinning at 100% CPU and serving nobody (S3+, S4: reported
as "FAILED (hung)", not waited for). Each server gets an unmeasured warm-up pass; every scenario has a
deadline, so a hung server costs seconds, not the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import logging
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hotline_process import until_stdin_closes

from ivr.fastagi import Channel, FastAgiServer, format_command
from launcher.runner import raise_fd_limit

ASTERISK_DELAY = 0.100
ROUTE = "bench"
#: The route's commands, as they appear on the wire, with the reply Asterisk gives to each.
SCRIPT: list[tuple[bytes, bytes]] = [
    (format_command("ANSWER"), b"200 result=0\n"),
    (format_command("GET VARIABLE", "CALLERID(num)"), b"200 result=1 (48600100200)\n"),
    (format_command("STREAM FILE", "hotline/welcome", "12"), b"200 result=0 endpos=16000\n"),
    (format_command("SET VARIABLE", "HOTLINE_BENCH", "1"), b"200 result=1\n"),
    (format_command("VERBOSE", "bench done", 1), b"200 result=1\n"),
]
SETTLE = 0.5  # seconds for a server to absorb a storm of bad connections before we measure beside them
SERVER_LIFETIME = 900  # seconds: a server subprocess left behind by a crashed run dies by itself
CLK_TCK = os.sysconf("SC_CLK_TCK")
THIS_SCRIPT = str(Path(__file__).resolve())


# ============================================================================================ the servers


async def our_route(channel: Channel) -> None:
    await channel.answer()
    await channel.get_variable("CALLERID(num)")
    await channel.stream_file("hotline/welcome", "12")
    await channel.set_variable("HOTLINE_BENCH", "1")
    await channel.verbose("bench done")


async def panoramisk_route(request: Any) -> None:
    for command, _ in SCRIPT:
        await request.send_command(command.decode().removesuffix("\n"))


async def serve(kind: str) -> None:
    """Subprocess body: start one server, print its port, run until stdin closes or we are killed."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    signal.alarm(SERVER_LIFETIME)
    if kind == "ours":
        ours = FastAgiServer({ROUTE: our_route}, "127.0.0.1", 0)
        await ours.start()
        port = ours.port
    else:
        from panoramisk import fast_agi

        app = fast_agi.Application()
        app.add_route(ROUTE, panoramisk_route)
        theirs = await asyncio.start_server(app.handler, "127.0.0.1", 0, backlog=1024)
        port = theirs.sockets[0].getsockname()[1]
    # Both servers get the tuning we recommend for the production process: objects that live as long as the
    # process (modules, classes, routes) go to the permanent generation, so that a full collection, which
    # stalls every call, only walks what the calls allocated. Without it, gen2 pauses of 15-35 ms were seen.
    gc.freeze()
    print(f"PORT {port}", flush=True)
    await until_stdin_closes()


@dataclass
class ServerProcess:
    kind: str
    process: asyncio.subprocess.Process
    port: int
    log: IO[bytes]

    @classmethod
    async def spawn(cls, kind: str, log: IO[bytes]) -> ServerProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            THIS_SCRIPT,
            "--serve",
            kind,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = await process.stdout.readline()
        if not line.startswith(b"PORT "):
            process.kill()
            raise RuntimeError(f"{kind} server did not start: {line!r}")
        return cls(kind, process, int(line.split()[1]), log)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK
        return 0.0

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()  # our own child, by its handle: it may be spinning, SIGTERM is not enough
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self.process.wait()


# ============================================================================================ the channels


def agi_header(uniqueid: str) -> bytes:
    lines = [
        "agi_network: yes",
        f"agi_network_script: {ROUTE}",
        f"agi_request: agi://127.0.0.1/{ROUTE}",
        f"agi_channel: PJSIP/bench-{uniqueid}",
        "agi_language: pl",
        "agi_type: PJSIP",
        f"agi_uniqueid: {uniqueid}",
        "agi_version: 22.0.0",
        "agi_callerid: 48600100200",
        "agi_calleridname: unknown",
        "agi_context: hotline-ivr",
        "agi_extension: 19524",
        "agi_priority: 1",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
    ]
    return ("\n".join(lines) + "\n\n").encode()


@dataclass
class Load:
    """What the channels of one scenario measured."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    sessions: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


class Gate:
    """Holds every channel after its first command until `size` channels got theirs (or a deadline)."""

    def __init__(self, size: int, deadline: float) -> None:
        self.size = size
        self.deadline = deadline
        self.arrived = 0
        self.open = asyncio.Event()

    async def pass_through(self) -> None:
        self.arrived += 1
        if self.arrived >= self.size:
            self.open.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.deadline):
                await self.open.wait()


async def simulated_call(port: int, uniqueid: str, load: Load, deadline: float, gate: Gate | None) -> None:
    """One Asterisk channel running the bench route; any deviation counts as an error."""
    writer: asyncio.StreamWriter | None = None
    load.sessions += 1
    try:
        async with asyncio.timeout(deadline):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            load.in_flight += 1
            load.peak_in_flight = max(load.peak_in_flight, load.in_flight)
            try:
                writer.write(agi_header(uniqueid))
                sent = time.perf_counter()
                for index, (command, reply) in enumerate(SCRIPT):
                    line = await reader.readline()
                    load.latencies.append(time.perf_counter() - sent)
                    if line != command:
                        load.error("closed early" if not line else "unexpected command")
                        return
                    if gate is not None and index == 0:
                        await gate.pass_through()
                    await asyncio.sleep(ASTERISK_DELAY)
                    writer.write(reply)
                    sent = time.perf_counter()
                if await reader.read() != b"":
                    load.error("unexpected data after the route")
            finally:
                load.in_flight -= 1
    except TimeoutError:
        load.error("timeout (hung)")
    except OSError as exc:
        load.error(type(exc).__name__)
    finally:
        if writer is not None:
            writer.close()


async def run_channels(port: int, concurrency: int, rounds: int, deadline: float, prefix: str) -> Load:
    """`concurrency` channels, each placing `rounds` calls back to back, starting at random offsets."""
    load = Load()
    rng = random.Random(concurrency * 1000 + rounds)

    async def channel(number: int) -> None:
        await asyncio.sleep(rng.uniform(0, len(SCRIPT) * ASTERISK_DELAY))
        for call in range(rounds):
            await simulated_call(port, f"{prefix}.{number}.{call}", load, deadline, None)

    await asyncio.gather(*(channel(number) for number in range(concurrency)))
    return load


async def run_burst(port: int, sessions: int, deadline: float) -> Load:
    """`sessions` calls all held at once: each waits after ANSWER until every call has been answered."""
    load = Load()
    gate = Gate(sessions, deadline / 2)
    await asyncio.gather(*(simulated_call(port, f"burst.{n}", load, deadline, gate) for n in range(sessions)))
    return load


# ============================================================================================ bad connections

BAD_PAYLOADS: list[tuple[str, bytes]] = [
    ("half-sent header", b"agi_network: yes\nagi_network_script: bench\nagi_chan"),
    ("half-sent header", b"agi_network: yes\n"),
    ("garbage", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    ("garbage", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"),
    ("silent", b""),
]


class BadConnections:
    """Connections that never become calls, held open until `release`; counts those the server dropped."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed_by_server = 0
        self.failed_to_connect = 0

    async def open(self, port: int, count: int) -> None:
        async def one(payload: bytes) -> None:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                self.failed_to_connect += 1
                return
            self.writers.append(writer)
            writer.write(payload)
            task = asyncio.create_task(self._watch(reader))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        await asyncio.gather(*(one(BAD_PAYLOADS[n % len(BAD_PAYLOADS)][1]) for n in range(count)))

    async def _watch(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError):
            while await reader.read(4096):
                pass
            self.closed_by_server += 1

    async def release(self) -> None:
        for writer in self.writers:
            writer.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def half_header_then_close(port: int, deadline: float) -> bool:
    """Send half a header and close; False if the server did not even accept the connection in time."""
    try:
        async with asyncio.timeout(deadline):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"agi_network: yes\nagi_network_script: ben")
            await writer.drain()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    except (TimeoutError, OSError):
        return False
    return True


# ============================================================================================ scenarios


@dataclass(frozen=True)
class Sizes:
    concurrency: int
    rounds: int  # calls per channel in one pass of S1 or S3 (back to back: the concurrency is sustained)
    passes: int  # passes of S1 and of S3, interleaved
    burst: int
    burst_passes: int  # passes of S2, interleaved
    bad: int
    after_eof: int
    deadline: float
    burst_deadline: float


FULL = Sizes(
    concurrency=300,
    rounds=2,
    passes=3,
    burst=2000,
    burst_passes=3,
    bad=1000,
    after_eof=20,
    deadline=10.0,
    burst_deadline=60.0,
)
SMOKE = Sizes(
    concurrency=20,
    rounds=1,
    passes=1,
    burst=20,
    burst_passes=1,
    bad=20,
    after_eof=5,
    deadline=5.0,
    burst_deadline=10.0,
)


@dataclass
class Outcome:
    load: Load
    wall: float
    server_cpu: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.server_cpu / self.wall if self.wall else 0.0

    @property
    def cpu_per_session(self) -> float | None:
        """Server CPU seconds per session of the pass (accept, header, commands, close)."""
        return self.server_cpu / self.load.sessions if self.load.sessions else None

    @property
    def hung(self) -> bool:
        return self.load.errors.get("timeout (hung)", 0) > 0


async def measured(server: ServerProcess, work: Callable[[], Awaitable[Load]], backstop: float) -> Outcome:
    """Run `work` against `server`. The load generator's own garbage collector is paused meanwhile: its
    pauses (2-3 ms) would show up as server latency. The servers keep theirs."""
    gc.collect()
    gc.disable()
    cpu_before, started = server.cpu_seconds(), time.perf_counter()
    try:
        async with asyncio.timeout(backstop):
            load = await work()
    except TimeoutError:
        load = Load(errors={"timeout (hung)": 1})
    finally:
        gc.enable()
    return Outcome(load, time.perf_counter() - started, server.cpu_seconds() - cpu_before)


def merge(outcomes: Sequence[Outcome]) -> Outcome:
    """Pool the passes of one scenario."""
    load = Load()
    for outcome in outcomes:
        load.latencies += outcome.load.latencies
        load.sessions += outcome.load.sessions
        load.peak_in_flight = max(load.peak_in_flight, outcome.load.peak_in_flight)
        for kind, count in outcome.load.errors.items():
            load.errors[kind] = load.errors.get(kind, 0) + count
    extra: dict[str, Any] = {}
    for outcome in outcomes:
        for key, value in outcome.extra.items():
            extra[key] = extra.get(key, 0) + value
    return Outcome(load, sum(o.wall for o in outcomes), sum(o.server_cpu for o in outcomes), extra)


async def channels_pass(server: ServerProcess, sizes: Sizes, prefix: str, rounds: int = 1) -> Outcome:
    """`sizes.concurrency` concurrent channels placing `rounds` calls each (first calls at random offsets)."""
    return await measured(
        server,
        lambda: run_channels(server.port, sizes.concurrency, rounds, sizes.deadline, prefix),
        sizes.deadline * (rounds + 1),
    )


async def beside_bad_connections(server: ServerProcess, sizes: Sizes, prefix: str) -> Outcome:
    """An S1 pass while the bad connections are held open (the whole pass fits in our 5 s header deadline).
    They are closed afterwards: a server left spinning by that shows in S3+."""
    bad = BadConnections()
    try:
        async with asyncio.timeout(30):
            await bad.open(server.port, sizes.bad)
        await asyncio.sleep(SETTLE)  # measure the steady state beside them, not the connection storm
        outcome = await channels_pass(server, sizes, prefix, sizes.rounds)
        outcome.extra["closed_by_server"] = bad.closed_by_server
        return outcome
    except TimeoutError:
        return Outcome(Load(errors={"timeout (hung)": 1}), 30.0, 0.0)
    finally:
        await bad.release()
        await asyncio.sleep(SETTLE)  # the server handles the closes before the next (quiet) measurement


async def after_half_header(server: ServerProcess, sizes: Sizes) -> Outcome:
    if not await half_header_then_close(server.port, sizes.deadline):
        return Outcome(Load(errors={"timeout (hung)": 1}), sizes.deadline, 0.0)
    return await measured(
        server,
        lambda: run_channels(server.port, sizes.after_eof, 1, sizes.deadline, "after-eof"),
        sizes.deadline + 10,
    )


def alternating(servers: list[ServerProcess], number: int) -> list[ServerProcess]:
    """The servers in turn, the first one first on even passes and last on odd ones: whoever goes first in a
    pair of passes (a client with fewer sockets behind it, a machine still busy with the previous pass) does
    not always get the same server."""
    return servers if number % 2 == 0 else servers[::-1]


def summary(outcome: Outcome) -> str:
    load = outcome.load
    cpu = outcome.cpu_per_session
    return (
        f"p50 {ms(percentile(load.latencies, 0.5))}, p99 {ms(percentile(load.latencies, 0.99))}, "
        f"server CPU / session {us(cpu)}, errors {load.error_count}"
    )


async def run_scenarios(
    servers: list[ServerProcess], sizes: Sizes, logs: Mapping[str, IO[bytes]]
) -> dict[str, dict[str, Outcome]]:
    """Every scenario on every server. S1 and S3 passes are interleaved (ours S1, theirs S1, ours S3, ...)
    so that noise from elsewhere on the machine falls on all alike. Closing S3's half-sent headers leaves
    panoramisk spinning, so it gets one S3 pass, the last; S2 and S4 then run on fresh server processes, S2
    passes interleaved too."""
    passes: dict[str, dict[str, list[Outcome]]] = {s.kind: {"S1": [], "S3": []} for s in servers}
    results: dict[str, dict[str, Outcome]] = {s.kind: {} for s in servers}
    last = sizes.passes - 1

    for server in servers:
        say(f"{server.kind}: warm-up (not measured)")
        await channels_pass(server, sizes, "warm-up")
    for number in range(sizes.passes):
        for server in alternating(servers, number):
            say(
                f"{server.kind}: S1 pass {number + 1}/{sizes.passes}: {sizes.concurrency} concurrent channels"
            )
            outcome = await channels_pass(server, sizes, f"quiet.{number}", sizes.rounds)
            passes[server.kind]["S1"].append(outcome)
            say(f"  {summary(outcome)}")
        for server in servers:
            if server.kind == "ours" or number == last:
                say(f"{server.kind}: S3 pass {number + 1}/{sizes.passes}: S1 with {sizes.bad} bad conns")
                passes[server.kind]["S3"].append(
                    await beside_bad_connections(server, sizes, f"noisy.{number}")
                )
    for server in servers:
        results[server.kind]["S1"] = merge(passes[server.kind]["S1"])
        results[server.kind]["S3"] = merge(passes[server.kind]["S3"])
        say(f"{server.kind}: S3+ {sizes.after_eof} sessions once the bad connections have closed")
        results[server.kind]["S3+"] = await measured(
            server,
            functools.partial(run_channels, server.port, sizes.after_eof, 1, sizes.deadline, "after-bad"),
            sizes.deadline + 10,
        )
    for index, server in enumerate(servers):
        await server.stop()
        servers[index] = server = await ServerProcess.spawn(server.kind, logs[server.kind])
        say(f"{server.kind}: warm-up (not measured)")
        await channels_pass(server, sizes, "warm-up")
    bursts: dict[str, list[Outcome]] = {s.kind: [] for s in servers}
    for number in range(sizes.burst_passes):
        for server in alternating(servers, number):
            say(f"{server.kind}: S2 pass {number + 1}/{sizes.burst_passes}: {sizes.burst} held at once")
            outcome = await measured(
                server,
                functools.partial(run_burst, server.port, sizes.burst, sizes.burst_deadline),
                sizes.burst_deadline + 10,
            )
            bursts[server.kind].append(outcome)
            say(f"  {summary(outcome)}")
    for server in servers:
        results[server.kind]["S2"] = merge(bursts[server.kind])
        results[server.kind]["S2"].extra["p99 per pass"] = [
            percentile(outcome.load.latencies, 0.99) for outcome in bursts[server.kind]
        ]
        say(f"{server.kind}: S4 half a header then close, then {sizes.after_eof} sessions")
        results[server.kind]["S4"] = await after_half_header(server, sizes)
    return results


# ============================================================================================ report


def percentile(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.2f} ms"


def describe(outcome: Outcome | None, value: str) -> str:
    """The figure, or why there is none: a hung (or CPU-spinning) server."""
    if outcome is None:
        return "-"
    if outcome.hung:
        spin = ", CPU-spin" if outcome.cpu_percent > 50 else ""
        return f"FAILED (hung{spin})"
    return value


def ratio(ours: float | None, theirs: float | None) -> str:
    """Ours over panoramisk's: below 1.00x, ours is lower (faster, cheaper)."""
    if ours is None or theirs is None or theirs == 0:
        return "-"
    return f"{ours / theirs:.2f}x"


def us(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e6:.0f} us"


def errors_text(outcome: Outcome) -> str:
    load = outcome.load
    if not load.errors:
        return "0"
    detail = ", ".join(f"{kind}: {count}" for kind, count in sorted(load.errors.items()))
    return f"{load.error_count} ({detail})"


def served(outcome: Outcome) -> str:
    return describe(outcome, "served" if outcome.load.error_count == 0 else errors_text(outcome))


def report(ours: dict[str, Outcome], theirs: dict[str, Outcome], sizes: Sizes) -> bool:
    """Print the table; return whether our server met every target."""
    rows: list[tuple[str, ...]] = []
    verdicts: list[bool] = []

    def row(
        metric: str, our: str, their: str, rat: str = "", target: str = "", ok: bool | None = None
    ) -> None:
        if ok is not None:
            verdicts.append(ok)
        rows.append((metric, our, their, rat, target, "" if ok is None else ("PASS" if ok else "FAIL")))

    def p99(results: dict[str, Outcome], key: str) -> float | None:
        return percentile(results[key].load.latencies, 0.99)

    def latency(label: str, key: str, fraction: float, target: str = "", ok: bool | None = None) -> None:
        o, t = ours[key], theirs[key]
        our, their = percentile(o.load.latencies, fraction), percentile(t.load.latencies, fraction)
        rat = "" if o.hung or t.hung else ratio(our, their)
        row(
            f"{label}: p{fraction * 100:.0f} added latency",
            describe(o, ms(our)),
            describe(t, ms(their)),
            rat,
            target,
            ok,
        )

    def sessions(label: str, key: str) -> None:
        o, t = ours[key], theirs[key]
        row(
            f"{label}: sessions / errors",
            f"{o.load.sessions} / {errors_text(o)}",
            describe(t, f"{t.load.sessions} / {errors_text(t)}")
            if t.hung
            else f"{t.load.sessions} / {errors_text(t)}",
            "",
            "0 errors",
            o.load.error_count == 0,
        )

    def cpu(label: str, key: str, per_session: bool = True) -> None:
        o, t = ours[key], theirs[key]
        row(f"{label}: server CPU", f"{o.cpu_percent:.0f}%", f"{t.cpu_percent:.0f}%")
        if per_session:  # CPU time is counted in 10 ms ticks: only passes of many sessions give a figure
            rat = "" if o.hung or t.hung else ratio(o.cpu_per_session, t.cpu_per_session)
            row(
                f"{label}: server CPU / session",
                us(o.cpu_per_session),
                describe(t, us(t.cpu_per_session)),
                rat,
            )

    label = f"S1 {sizes.concurrency} concurrent"
    our_quiet = p99(ours, "S1")
    latency(label, "S1", 0.5)
    latency(
        label, "S1", 0.99, "<= 5 ms", our_quiet is not None and our_quiet <= 0.005 and not ours["S1"].hung
    )
    sessions(label, "S1")
    cpu(label, "S1")

    label = f"S2 {sizes.burst} held at once"
    o, t = ours["S2"], theirs["S2"]
    row(f"{label}: errors", errors_text(o), describe(t, errors_text(t)), "", "0", o.load.error_count == 0)
    row(f"{label}: peak concurrent", str(o.load.peak_in_flight), str(t.load.peak_in_flight))
    latency(label, "S2", 0.5)
    latency(label, "S2", 0.99)
    row(
        f"{label}: p99 of each pass, ms",
        " / ".join(f"{v * 1000:.0f}" for v in o.extra.get("p99 per pass", []) if v is not None),
        " / ".join(f"{v * 1000:.0f}" for v in t.extra.get("p99 per pass", []) if v is not None),
    )
    cpu(label, "S2")

    label = f"S3 {sizes.concurrency} beside {sizes.bad} bad conns"
    o, t = ours["S3"], theirs["S3"]
    our_noisy, their_noisy = p99(ours, "S3"), p99(theirs, "S3")
    latency(label, "S3", 0.5)
    latency(label, "S3", 0.99)
    row(
        f"{label}: p99 / quiet p99",
        describe(o, ratio(our_noisy, our_quiet)),
        describe(t, ratio(their_noisy, p99(theirs, "S1"))),
        "",
        "<= 2x",
        our_noisy is not None and our_quiet is not None and our_noisy <= 2 * our_quiet and not o.hung,
    )
    sessions(label, "S3")
    row(
        f"{label}: bad conns dropped by server",
        str(o.extra.get("closed_by_server", "-")),
        str(t.extra.get("closed_by_server", "-")),
    )
    cpu(label, "S3")
    label = f"S3 then bad conns close: {sizes.after_eof} sessions"
    row(label, served(ours["S3+"]), served(theirs["S3+"]), "", "0 errors", ours["S3+"].load.error_count == 0)
    cpu(label, "S3+", per_session=False)

    label = f"S4 1 half header + close: {sizes.after_eof} sessions"
    row(label, served(ours["S4"]), served(theirs["S4"]), "", "0 errors", ours["S4"].load.error_count == 0)
    cpu(label, "S4", per_session=False)

    headers = ("scenario / metric", "ours", "panoramisk", "ours/pano", "target", "ours")
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print(line)
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print(line)
    return all(verdicts)


# ============================================================================================ main


async def bench(sizes: Sizes, smoke: bool, logs: Mapping[str, IO[bytes]]) -> int:
    servers: list[ServerProcess] = []
    try:
        for kind in ("ours", "panoramisk"):
            servers.append(await ServerProcess.spawn(kind, logs[kind]))
        results = await run_scenarios(servers, sizes, logs)
    finally:
        for server in servers:
            await server.stop()
    mode = "smoke" if smoke else "full"
    print(
        f"\nFastAGI load benchmark ({mode}): route of {len(SCRIPT)} commands, "
        f"{ASTERISK_DELAY * 1000:.0f} ms Asterisk-side delay before each reply, "
        "each server in its own process."
    )
    passed = report(results["ours"], results["panoramisk"], sizes)
    our_errors = sum(outcome.load.error_count for outcome in results["ours"].values())
    if smoke:
        print("(smoke: too few samples for the latency targets to mean much; only errors decide)")
        print(f"SMOKE {'PASS' if our_errors == 0 else 'FAIL'}: our server had {our_errors} errors")
        return 0 if our_errors == 0 else 1
    print(f"OVERALL {'PASS' if passed else 'FAIL'} (targets apply to our server)")
    return 0 if passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny run for CI; exit 1 if our server had errors"
    )
    parser.add_argument("--serve", choices=("ours", "panoramisk"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve))
        return 0
    sizes = SMOKE if args.smoke else FULL
    raise_fd_limit(2 * (sizes.burst + sizes.bad + sizes.concurrency) + 512)
    with tempfile.TemporaryDirectory(prefix="agi-load-") as tmp, contextlib.ExitStack() as stack:
        # Server logs (one warning per rejected connection) go to files, not to the table.
        logs = {
            kind: stack.enter_context(open(Path(tmp) / f"{kind}.log", "wb"))
            for kind in ("ours", "panoramisk")
        }
        return asyncio.run(bench(sizes, args.smoke, logs))


if __name__ == "__main__":
    sys.exit(main())
