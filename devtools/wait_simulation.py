"""The wait estimate checked against what happens: a seeded, discrete-event simulation of a queue.

Callers arrive at random (Poisson) at a queue served first in, first out by a fixed number of consultants
whose handle times (talk plus wrap-up) come from a known distribution (log-normal with a given mean and
coefficient of variation). Every ``period`` seconds of a caller's wait, as the hotline announces, the
estimate (:func:`hotline.wait_estimate.estimate_wait`) is computed from what the hotline would know at that
moment (callers ahead, consultants serving and free, the rolling window of handle times of the calls that
ended) and later compared with the caller's real remaining wait. Beside it, what Asterisk's
``announce-holdtime`` would have said: the queue's average hold time (``(3 * old + new) / 4`` at every
connected call, as app_queue keeps it) less the time already waited.

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

from hotline.wait_estimate import QueueFigures, estimate_wait, spoken_minutes

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
    # Announcements whose spoken minutes were at least the real wait (rounded up: never promising too short).
    said_enough: int = 0

    @property
    def count(self) -> int:
        return len(self.ours)

    def extend(self, other: Errors) -> None:
        self.ours += other.ours
        self.real += other.real
        self.asterisk += other.asterisk
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
            real = now - announced_at
            errors.ours.append(ours - real)
            errors.real.append(real)
            errors.asterisk.append(theirs - real)
            if minutes is None or real <= minutes * 60:
                errors.said_enough += 1

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


def run(scenarios: tuple[Scenario, ...] = SCENARIOS) -> dict[str, Errors]:
    results = {scenario.name: simulate(scenario) for scenario in scenarios}
    total = Errors()
    for errors in results.values():
        total.extend(errors)
    results["all"] = total
    return results


def table(results: dict[str, Errors]) -> str:
    lines = [
        f"{'scenario':<36} {'n':>6} {'real wait':>9} {'ours MAE':>9} {'p90':>6} {'bias':>6}"
        f" {'said>=real':>10} {'Asterisk MAE':>12} {'p90':>6}"
    ]
    for name, e in results.items():
        lines.append(
            f"{name:<36} {e.count:>6} {sum(e.real) / e.count:>8.0f}s"
            f" {mean_absolute(e.ours):>8.0f}s {p90_absolute(e.ours):>5.0f}s {bias(e.ours):>+5.0f}s"
            f" {e.said_enough / e.count:>10.0%}"
            f" {mean_absolute(e.asterisk):>11.0f}s {p90_absolute(e.asterisk):>5.0f}s"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.parse_args()
    print(table(run()))


if __name__ == "__main__":
    main()
