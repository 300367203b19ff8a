"""The wait estimate checked against what happens: a seeded, discrete-event simulation of a queue.

Callers arrive at random (Poisson) at a queue served first in, first out by a fixed number of consultants
whose handle times (talk plus wrap-up) come from a known distribution (log-normal with a given mean and
coefficient of variation). Every ``period`` seconds of a caller's wait, as the hotline announces, the
estimate (:func:`hotline.wait_estimate.estimate_wait`) is computed from what the hotline would know at that
moment (callers ahead, consultants serving and free, the rolling window of handle times of the calls that
ended) and later compared with the caller's real remaining wait. Beside it, what Asterisk's
``announce-holdtime`` would have said: the queue's average hold time (``(3 * old + new) / 4`` at every
connected call, as app_queue keeps it) less the time already waited.

Queues that widen with the wait (:data:`TIERED_SCENARIOS`, :func:`simulate_tiered`): several queues share
their consultants at different penalties, as ``hotline/queues.py`` makes them members (0-2 in their own
topic, 10-12 in their language's other topics, 20 in the other languages'), and each caller's highest
penalty offered rises at the routing steps' times (:data:`ROUTING`, ``hotline/queues.yaml``'s), as
Asterisk's queue rule raises it: a consultant takes a caller only once that caller's step reaches them,
lowest penalty first. There, beside ours and Asterisk's, the estimate blind to routing (every member of the
queue serving and free from the first second, as before the routing steps were known) on the same calls.

    .venv/bin/python -m devtools.wait_simulation      # prints each scenario's errors, and all together

Deterministic: the same seed gives the same figures. No clock is read: the time is the simulation's.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field

from hotline.queues import RoutingStep
from hotline.wait_estimate import QueueFigures, Serving, estimate_wait, figures_by_reach, spoken_minutes

WINDOW = 50  # handle times kept per queue (the hotline's rolling window)
PERIOD_S = 45.0


@dataclass(frozen=True)
class Scenario:
    name: str
    consultants: int
    mean_handle_s: float
    cv: float  # of the handle times
    load: float  # arrivals per second * mean handle time / consultants
    callers: int
    seed: int


# Busy hours of a hotline: a queue that builds up and drains (load around 1), few and many consultants,
# calls that barely vary and calls that vary a lot.
SCENARIOS = (
    Scenario("1 consultant, cv 0.5, load 0.85", 1, 240, 0.5, 0.85, 800, 1),
    Scenario("2 consultants, cv 0.8, load 0.85", 2, 420, 0.8, 0.85, 1000, 2),
    Scenario("3 consultants, cv 0.7, load 0.9", 3, 300, 0.7, 0.90, 1500, 3),
    Scenario("5 consultants, cv 1.0, load 0.9", 5, 270, 1.0, 0.90, 2000, 4),
    Scenario("8 consultants, cv 0.3, load 0.95", 8, 200, 0.3, 0.95, 3000, 5),
    Scenario("12 consultants, cv 0.6, load 0.95", 12, 360, 0.6, 0.95, 3000, 6),
)


@dataclass
class Errors:
    """Estimated minus real remaining wait, in seconds, one per announcement."""

    ours: list[float] = field(default_factory=list)
    real: list[float] = field(default_factory=list)  # the real remaining waits
    asterisk: list[float] = field(default_factory=list)
    # The estimate blind to routing (every consultant of the queue serving and free from the first second,
    # as before routing steps were known): the same as ours in a queue of one step.
    single_step: list[float] = field(default_factory=list)
    # Announcements whose spoken minutes were at least the real wait (rounded up: never promising too short).
    said_enough: int = 0

    @property
    def count(self) -> int:
        return len(self.ours)

    def add(self, real: float, ours: float, single_step: float, asterisk: float, minutes: int | None) -> None:
        """One announcement, once its caller's real remaining wait is known."""
        self.ours.append(ours - real)
        self.real.append(real)
        self.asterisk.append(asterisk - real)
        self.single_step.append(single_step - real)
        if minutes is None or real <= minutes * 60:
            self.said_enough += 1

    def extend(self, other: Errors) -> None:
        self.ours += other.ours
        self.real += other.real
        self.asterisk += other.asterisk
        self.single_step += other.single_step
        self.said_enough += other.said_enough


def mean_absolute(errors: list[float]) -> float:
    return sum(abs(e) for e in errors) / len(errors)


def p90_absolute(errors: list[float]) -> float:
    ordered = sorted(abs(e) for e in errors)
    return ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]


def bias(errors: list[float]) -> float:
    return sum(errors) / len(errors)


def simulate(scenario: Scenario, *, period_s: float = PERIOD_S) -> Errors:
    rng = random.Random(scenario.seed)
    sigma2 = math.log(1 + scenario.cv**2)
    mu = math.log(scenario.mean_handle_s) - sigma2 / 2
    rate = scenario.load * scenario.consultants / scenario.mean_handle_s

    # Events: (time, order, kind, caller). Order breaks ties deterministically.
    events: list[tuple[float, int, str, int]] = []
    order = 0

    def push(at: float, kind: str, caller: int) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, caller))

    at = 0.0
    for caller in range(scenario.callers):
        at += rng.expovariate(rate)
        push(at, "arrive", caller)

    free = scenario.consultants
    line: deque[int] = deque()
    arrived: dict[int, float] = {}
    window: deque[float] = deque(maxlen=WINDOW)
    asterisk_holdtime = 0.0
    # Announcements waiting for their caller's real wait: caller -> [(time, ours, asterisk's, said minutes)].
    pending: dict[int, list[tuple[float, float, float, int | None]]] = {}
    errors = Errors()

    def connect(caller: int, now: float) -> None:
        nonlocal free, asterisk_holdtime
        free -= 1
        handle = rng.lognormvariate(mu, math.sqrt(sigma2))
        push(now + handle, "end", caller)
        waited = now - arrived[caller]
        asterisk_holdtime = (asterisk_holdtime * 3 + waited) / 4
        for announced_at, ours, theirs, minutes in pending.pop(caller, []):
            errors.add(now - announced_at, ours, ours, theirs, minutes)

    handle_started: dict[int, float] = {}
    while events:
        now, _, kind, caller = heapq.heappop(events)
        if kind == "arrive":
            arrived[caller] = now
            if free > 0 and not line:
                handle_started[caller] = now
                connect(caller, now)
            else:
                line.append(caller)
                push(now + period_s, "announce", caller)
        elif kind == "end":
            window.append(now - handle_started.pop(caller))
            free += 1
            if line:
                nxt = line.popleft()
                handle_started[nxt] = now
                connect(nxt, now)
        elif kind == "announce":
            if caller not in arrived or caller in handle_started or caller not in line:
                continue
            ahead = line.index(caller)
            estimate = estimate_wait(
                QueueFigures(ahead=ahead, serving=scenario.consultants, free=free, handle_times=tuple(window))
            )
            assert estimate.seconds is not None
            theirs = max(asterisk_holdtime - (now - arrived[caller]), 0.0)
            minutes = spoken_minutes(estimate.seconds)
            pending.setdefault(caller, []).append((now, estimate.seconds, theirs, minutes))
            push(now + period_s, "announce", caller)
    return errors


# --- Queues that widen with the wait -------------------------------------------------------------------

# hotline/queues.yaml's routing (tests/core/test_wait_estimate.py checks they are the same): the topic in the
# caller's language (penalties 0-2), after 45 s the language (10-12), after 120 s anyone (20).
ROUTING = (RoutingStep(0, "topic"), RoutingStep(45, "language"), RoutingStep(120, "anyone"))


@dataclass(frozen=True)
class Group:
    """Consultants alike: their penalty in each queue they are a member of (lowest: their own queue)."""

    consultants: int
    penalties: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class TieredScenario:
    name: str
    # Each queue and the load its callers bring: arrivals per second * mean handle time / its own consultants
    # (those with penalty 0-2 in it).
    queues: tuple[tuple[str, float], ...]
    groups: tuple[Group, ...]
    mean_handle_s: float
    cv: float
    callers: int
    seed: int
    routing: tuple[RoutingStep, ...] = ROUTING


# Consultants of one topic (or language) who are also members of the others' queues at a wider step, as
# hotline/queues.py makes them: a queue whose own consultants are overloaded leans on the others', who are
# busy with their own callers first.
TIERED_SCENARIOS = (
    TieredScenario(
        "2 topic + 4 language, loads 1.05/0.7",
        (("jobs", 1.05), ("training", 0.7)),
        (Group(2, (("jobs", 1), ("training", 11))), Group(4, (("training", 0), ("jobs", 11)))),
        300,
        0.7,
        3000,
        11,
    ),
    TieredScenario(
        "1 topic + 2 language + 4 anyone",
        (("jobs-uk", 1.1), ("training-uk", 0.6), ("jobs-pl", 0.8)),
        (
            Group(1, (("jobs-uk", 0), ("training-uk", 11), ("jobs-pl", 20))),
            Group(2, (("training-uk", 1), ("jobs-uk", 11), ("jobs-pl", 20))),
            Group(4, (("jobs-pl", 0), ("jobs-uk", 20), ("training-uk", 20))),
        ),
        300,
        0.7,
        3000,
        12,
    ),
    TieredScenario(
        "3 topic + 3 language, loads 0.9/0.9",
        (("jobs", 0.9), ("training", 0.9)),
        (Group(3, (("jobs", 1), ("training", 11))), Group(3, (("training", 1), ("jobs", 11)))),
        300,
        0.7,
        3000,
        13,
    ),
)


def max_penalty(routing: tuple[RoutingStep, ...], waited: float) -> int:
    """The highest penalty offered a caller who has waited ``waited`` seconds (Asterisk's queue rule)."""
    return max((step.max_penalty for step in routing if step.after <= waited), default=routing[0].max_penalty)


def simulate_tiered(scenario: TieredScenario, *, period_s: float = PERIOD_S) -> Errors:
    """Several queues sharing consultants at different penalties, each caller's reach widening with their
    wait. A free consultant is offered to the head of a queue whose caller's step reaches them (callers
    behind have waited less and reach no further); a caller reached by several free consultants gets the one
    of lowest penalty; when the heads of several queues reach the same free consultant, which one gets them
    is chance (Asterisk's queues race for a member, no queue goes first). Announcements are measured in
    every queue."""
    rng = random.Random(scenario.seed)
    sigma2 = math.log(1 + scenario.cv**2)
    mu = math.log(scenario.mean_handle_s) - sigma2 / 2
    routing = scenario.routing
    top = routing[0].max_penalty

    # The consultants: their penalty in each queue they belong to.
    penalties: list[dict[str, int]] = [
        dict(g.penalties) for g in scenario.groups for _ in range(g.consultants)
    ]
    names = [name for name, _ in scenario.queues]

    events: list[tuple[float, int, str, int]] = []
    order = 0

    def push(at: float, kind: str, subject: int) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, subject))

    queue_of: list[str] = []
    rates = {
        name: load * sum(1 for p in penalties if p.get(name, top + 1) <= top) / scenario.mean_handle_s
        for name, load in scenario.queues
    }
    total_rate = sum(rates.values())
    at = 0.0
    for caller in range(scenario.callers):
        at += rng.expovariate(total_rate)
        queue_of.append(rng.choices(names, weights=[rates[name] for name in names])[0])
        push(at, "arrive", caller)

    free = [True] * len(penalties)
    serving_caller: dict[int, int] = {}  # consultant -> caller
    lines: dict[str, deque[int]] = {name: deque() for name in names}
    arrived: dict[int, float] = {}
    windows: dict[str, deque[float]] = {name: deque(maxlen=WINDOW) for name in names}
    asterisk_holdtime = dict.fromkeys(names, 0.0)
    handle_started: dict[int, float] = {}
    connected: set[int] = set()
    pending: dict[int, list[tuple[float, float, float, float, int | None]]] = {}
    errors = Errors()

    def reachable(name: str, caller: int, now: float) -> list[int]:
        reach = max_penalty(routing, now - arrived[caller])
        return [c for c, p in enumerate(penalties) if free[c] and p.get(name, reach + 1) <= reach]

    def connect(caller: int, consultant: int, now: float) -> None:
        name = queue_of[caller]
        free[consultant] = False
        serving_caller[consultant] = caller
        handle_started[caller] = now
        connected.add(caller)
        push(now + rng.lognormvariate(mu, math.sqrt(sigma2)), "end", consultant)
        waited = now - arrived[caller]
        asterisk_holdtime[name] = (asterisk_holdtime[name] * 3 + waited) / 4
        for announced_at, ours, single_step, theirs, minutes in pending.pop(caller, []):
            errors.add(now - announced_at, ours, single_step, theirs, minutes)

    def dispatch(now: float) -> None:
        while True:
            offers = {name: reachable(name, line[0], now) for name, line in lines.items() if line}
            taking = [name for name, consultants in offers.items() if consultants]
            if not taking:
                return
            name = taking[0] if len(taking) == 1 else rng.choice(taking)
            consultant = min(offers[name], key=lambda c: penalties[c][name])
            connect(lines[name].popleft(), consultant, now)

    while events:
        now, _, kind, subject = heapq.heappop(events)
        if kind == "arrive":
            caller = subject
            arrived[caller] = now
            lines[queue_of[caller]].append(caller)
            for step in routing[1:]:
                push(now + step.after, "widen", caller)
            push(now + period_s, "announce", caller)
            dispatch(now)
        elif kind == "end":
            caller = serving_caller.pop(subject)
            windows[queue_of[caller]].append(now - handle_started.pop(caller))
            free[subject] = True
            dispatch(now)
        elif kind == "widen":
            if subject not in connected:
                dispatch(now)
        elif kind == "announce":
            caller = subject
            name = queue_of[caller]
            if caller in connected:
                continue
            waited = now - arrived[caller]
            members = [Serving(p[name], free[c]) for c, p in enumerate(penalties) if name in p]
            serving, free_now, wider = figures_by_reach(members, waited=waited, routing=routing)
            figures = QueueFigures(
                ahead=lines[name].index(caller),
                serving=serving,
                free=free_now,
                handle_times=tuple(windows[name]),
                wider=wider,
            )
            ours = estimate_wait(figures).seconds
            blind = QueueFigures(
                ahead=figures.ahead,
                serving=len(members),
                free=sum(1 for m in members if m.free),
                handle_times=figures.handle_times,
            )
            single_step = estimate_wait(blind).seconds
            assert ours is not None and single_step is not None
            theirs = max(asterisk_holdtime[name] - waited, 0.0)
            pending.setdefault(caller, []).append((now, ours, single_step, theirs, spoken_minutes(ours)))
            push(now + period_s, "announce", caller)
    return errors


def run(
    scenarios: tuple[Scenario, ...] = SCENARIOS, tiered: tuple[TieredScenario, ...] = TIERED_SCENARIOS
) -> dict[str, Errors]:
    """Each scenario's errors, then ``all`` (the single-step scenarios) and ``tiered`` (the others)."""
    results = {scenario.name: simulate(scenario) for scenario in scenarios}
    total = Errors()
    for errors in results.values():
        total.extend(errors)
    tiered_results = {scenario.name: simulate_tiered(scenario) for scenario in tiered}
    tiered_total = Errors()
    for errors in tiered_results.values():
        tiered_total.extend(errors)
    if scenarios:
        results["all"] = total
    results |= tiered_results
    if tiered:
        results["tiered"] = tiered_total
    return results


def table(results: dict[str, Errors]) -> str:
    lines = [
        f"{'scenario':<38} {'n':>6} {'real wait':>9} {'ours MAE':>9} {'p90':>6} {'bias':>6}"
        f" {'said>=real':>10} {'1-step MAE':>10} {'p90':>6} {'bias':>6} {'Asterisk MAE':>12} {'p90':>6}"
    ]
    for name, e in results.items():
        lines.append(
            f"{name:<38} {e.count:>6} {sum(e.real) / e.count:>8.0f}s"
            f" {mean_absolute(e.ours):>8.0f}s {p90_absolute(e.ours):>5.0f}s {bias(e.ours):>+5.0f}s"
            f" {e.said_enough / e.count:>10.0%}"
            f" {mean_absolute(e.single_step):>9.0f}s {p90_absolute(e.single_step):>5.0f}s"
            f" {bias(e.single_step):>+5.0f}s"
            f" {mean_absolute(e.asterisk):>11.0f}s {p90_absolute(e.asterisk):>5.0f}s"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.parse_args()
    print(table(run()))


if __name__ == "__main__":
    main()
