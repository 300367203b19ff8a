"""How long a caller in a consultants' queue will still wait: our own estimate from live figures, and the
words it is said in.

Asterisk's ``announce-holdtime`` says the queue's average hold time less what the caller has waited: an
average of other callers' waits, blind to how many are ahead and how many consultants serve. Here the wait
is computed from what decides it (:func:`estimate_wait`):

- ``ahead``: callers ahead in the queue plus call-backs holding a place ahead of them;
- ``serving``: consultants logged in to the queue and not paused, of the first routing step (penalty 0-2:
  the topic in the caller's language); ``free``: those of them free right now;
- ``wider``: each later routing step (``hotline/queues.yaml``'s ``routing``: after 45 s the caller's
  language, 10-12; after 120 s anyone, 20), when this caller's wait reaches it and the consultants it adds,
  serving and free (:func:`figures_by_reach`, from the members' penalties and the caller's time waited);
- ``handle_times``: the queue's recent handle times (talk time plus wrap-up), a rolling window.

With ``d = ahead + 1 - free`` consultants still to become free before this caller is offered one, and
``n = serving`` consultants finishing calls of mean length ``h`` (coefficient of variation ``cv``), the
``d``-th end of a call from now is expected after ``(d - 1) * h / n`` plus the wait for the first end,
``h * (1 + cv²) / (2n)`` (the mean residual of a call in progress, shared by ``n`` consultants): exact for
exponential handle times (``d * h / n``), half a call less for handle times that barely vary. Until the
window holds a few calls, ``h`` leans on ``default_handle_s`` (the mean is shrunk towards it) and ``cv`` is
taken as 1. Nobody serving the queue: no estimate (None), and only the place in line is said.

The wider routing steps. A consultant of a later step is a member of their own queues at penalty 0-2 and
is offered to those callers too: Asterisk's queues race for a free member, none goes first, so such a
consultant takes one of our callers only now and then: when nobody waits in their own queues, or when ours
wins the race. The model counts each of them as :data:`WIDER_WEIGHT` (a fifth) of a consultant of the first
step from the moment this caller's wait reaches their step (the ends still needed, ``d - 1 + (1 + cv²) / 2``
calls, are used up at ``(n + WIDER_WEIGHT * n_wider) / h`` per second from then on), and one free right now
as a whole one: free now, their own queues are empty, so they take a caller as soon as one reaches them
(at once if their step is reached already). The weight was chosen in the simulation below (a tenth to a
whole one tried; a fifth had the smallest error with the least bias); it does not know how busy the other
queues are now, which is what the remaining error is mostly made of. With ``queues.yaml``'s steps and
announcements every 45 s, a caller has reached the language step by their first announcement: what the
estimate gains there is the weight; the step of anyone (120 s) is also still to come at the first two.
Every consultant at the first step (or one step only): exactly the formula above.

Checked against what happened in a seeded, discrete-event simulation of queues with known arrivals and
handle times (``devtools/wait_simulation.py``; ``tests/core/test_wait_estimate.py`` holds it to its bounds):
at every 45 s announcement the estimate is compared with the caller's real remaining wait. Over six
scenarios of one routing step (1 to 12 consultants, log-normal handle times of 200 to 420 s with cv 0.3 to
1.0, loads 0.85 to 0.95; 103,483 announcements, real remaining wait 467 s on average) the error is 110 s
mean absolute and 269 s at p90 (biased +30 s: rather too long than too short); Asterisk's average less the
time waited misses by 195 s mean absolute and 474 s at p90 on the same calls. Over three scenarios of queues
sharing their consultants at the three routing steps (6 or 7 consultants, 300 s, cv 0.7; 39,328
announcements, real remaining wait 427 s) it is 143 s mean absolute and 324 s at p90 (bias -30 s); the
estimate blind to routing (every member of the queue serving from the first second) missed by 202 s and
509 s (bias -188 s: far too short), Asterisk's by 250 s and 617 s. Per scenario: README.md, "While
waiting".

The spoken form (:func:`announcement`) is language-free: prompt ids whose texts, with each language's own
grammar for numbers, are in ``recordings/prompts.yaml``. Times are rounded up, never down: under a minute
"less than a minute", then whole minutes up to 10, then steps of 5 up to 30, then "more than 30 minutes".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from hotline.queues import RoutingStep

# Handle time assumed for a queue without history (talk plus wrap-up), in seconds.
DEFAULT_HANDLE_S = 300.0
# How many calls of history weigh as much as the default: the mean of a short window is shrunk towards it.
PRIOR_CALLS = 3
# How much a busy consultant of a wider routing step counts, once the caller reaches it, beside one of the
# first step: they serve their own queues too (see the module's docstring; measured in
# devtools/wait_simulation.py).
WIDER_WEIGHT = 0.2
# Calls of history needed before their spread (cv) is believed instead of assuming cv = 1.
SPREAD_CALLS = 8
# The spread is clipped: a few very long calls must not make every estimate balloon.
MAX_CV2 = 2.0

# The spoken form: callers ahead said one by one up to this many, then "more than MAX_AHEAD".
MAX_AHEAD = 20
# Minutes said as "about N minutes" (rounded up to the next of these), then "more than" the last.
MINUTE_STEPS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30)


@dataclass(frozen=True)
class WiderStep:
    """A routing step after the first, and the consultants it adds to those serving the caller."""

    opens_in: float  # seconds until this caller's wait reaches the step; 0 or less: reached already
    serving: int  # consultants it adds, logged in and not paused
    free: int  # of those, free right now


@dataclass(frozen=True)
class QueueFigures:
    """What is known now about one caller's queue."""

    ahead: int  # callers ahead of this one in the queue (position - 1)
    serving: int  # consultants logged in and not paused (of the first routing step, when there are more)
    free: int  # of those, free right now (not in a call, not in wrap-up)
    handle_times: Sequence[float] = ()  # recent handle times of the queue (talk + wrap-up), seconds
    callbacks_ahead: int = 0  # call-backs holding a place ahead of this caller
    wider: Sequence[WiderStep] = ()  # the routing steps after the first, in order


class Serving(NamedTuple):
    """A consultant of the queue, logged in and not paused: their penalty in it, and whether free now."""

    penalty: int
    free: bool


def figures_by_reach(
    consultants: Iterable[Serving], *, waited: float, routing: Sequence[RoutingStep]
) -> tuple[int, int, tuple[WiderStep, ...]]:
    """Who serves a caller who has waited ``waited`` seconds, by routing step (``hotline/queues.yaml``'s
    ``routing``, which Asterisk's queue rule applies to member penalties): the consultants of the first step
    (serving, free) and, for each later step, when the caller's wait reaches it (already: 0 or less) and
    whom it adds. A consultant beyond the last step is never offered the caller. Without routing, everyone
    is of the first step."""
    consultants = list(consultants)
    if not routing:
        return len(consultants), sum(1 for c in consultants if c.free), ()
    first = [c for c in consultants if c.penalty <= routing[0].max_penalty]
    wider = []
    below = routing[0].max_penalty
    for step in routing[1:]:
        added = [c for c in consultants if below < c.penalty <= step.max_penalty]
        wider.append(WiderStep(step.after - waited, len(added), sum(1 for c in added if c.free)))
        below = step.max_penalty
    return len(first), sum(1 for c in first if c.free), tuple(wider)


@dataclass(frozen=True)
class WaitEstimate:
    ahead: int  # callers and call-backs ahead
    seconds: float | None  # expected remaining wait; None when nobody serves the queue
    handle_s: float  # the handle time used
    history: int  # calls of history it came from


def handle_time(
    handle_times: Sequence[float], default_handle_s: float = DEFAULT_HANDLE_S
) -> tuple[float, float]:
    """The mean handle time and its squared coefficient of variation, from the window and the default."""
    times = [t for t in handle_times if math.isfinite(t) and t >= 0]
    k = len(times)
    if k == 0:
        return default_handle_s, 1.0
    mean = sum(times) / k
    shrunk = (k * mean + PRIOR_CALLS * default_handle_s) / (k + PRIOR_CALLS)
    if k < SPREAD_CALLS or mean <= 0:
        return shrunk, 1.0
    variance = sum((t - mean) ** 2 for t in times) / (k - 1)
    return shrunk, min(variance / mean**2, MAX_CV2)


def estimate_wait(
    figures: QueueFigures,
    *,
    default_handle_s: float = DEFAULT_HANDLE_S,
    wider_weight: float = WIDER_WEIGHT,
) -> WaitEstimate:
    """The expected remaining wait of a caller (see the module's docstring for the model): when the ends of
    calls counted for this caller (those of the first step's consultants, and ``wider_weight`` of those of
    each wider step from when the caller reaches it) reach the ``d - 1 + (1 + cv²) / 2`` calls needed."""
    ahead = max(figures.ahead, 0) + max(figures.callbacks_ahead, 0)
    h, cv2 = handle_time(figures.handle_times, default_handle_s)
    history = len(figures.handle_times)
    serving = max(figures.serving, 0)
    wider = sorted(
        (step for step in figures.wider if step.serving > 0 and wider_weight > 0), key=lambda s: s.opens_in
    )
    if serving == 0 and not wider:
        return WaitEstimate(ahead, None, h, history)
    free = min(max(figures.free, 0), serving)
    # A consultant of a step reached already who is free now takes a caller at once, whatever their step.
    free += sum(min(max(step.free, 0), step.serving) for step in wider if step.opens_in <= 0)
    still_to_free = ahead + 1 - free
    if still_to_free <= 0:
        return WaitEstimate(ahead, 0.0, h, history)
    if not wider:
        seconds = (still_to_free - 1) * h / serving + h * (1 + cv2) / (2 * serving)
        return WaitEstimate(ahead, seconds, h, history)
    # Ends of calls still needed (counted in calls), and how many end per second for this caller.
    needed = still_to_free - 1 + (1 + cv2) / 2
    rate = serving / h
    at = 0.0
    for step in wider:
        opens = max(step.opens_in, 0.0)
        if rate > 0 and at + needed / rate <= opens:
            break
        needed -= rate * (opens - at)
        at = opens
        if step.opens_in > 0:
            needed -= min(max(step.free, 0), step.serving)
            if needed <= 0:
                return WaitEstimate(ahead, at, h, history)
        rate += wider_weight * step.serving / h
    return WaitEstimate(ahead, at + needed / rate, h, history)


# --- The spoken form ----------------------------------------------------------------------------------------


def ahead_prompt(ahead: int) -> str:
    """``wait_ahead_0`` (your call is next) … ``wait_ahead_20``, then ``wait_ahead_more``."""
    return f"wait_ahead_{max(ahead, 0)}" if ahead <= MAX_AHEAD else "wait_ahead_more"


def spoken_minutes(seconds: float) -> int | None:
    """The minutes said for a wait, rounded up to a step; 0 for "less than a minute", None for "more than
    the last step"."""
    if seconds < 60:
        return 0
    minutes = math.ceil(seconds / 60 - 1e-9)
    for step in MINUTE_STEPS:
        if minutes <= step:
            return step
    return None


def time_prompt(seconds: float) -> str:
    """``wait_time_0`` (less than a minute), ``wait_time_<N>`` (about N minutes), ``wait_time_more``."""
    minutes = spoken_minutes(seconds)
    return "wait_time_more" if minutes is None else f"wait_time_{minutes}"


def announcement(estimate: WaitEstimate) -> tuple[str, ...]:
    """The prompt ids of one announcement: the place in line, then the wait when there is an estimate."""
    if estimate.seconds is None:
        return (ahead_prompt(estimate.ahead),)
    return (ahead_prompt(estimate.ahead), time_prompt(estimate.seconds))


def every_prompt() -> tuple[str, ...]:
    """Every prompt id an announcement may use (each must have a text in every language)."""
    return (
        *(ahead_prompt(n) for n in range(MAX_AHEAD + 2)),
        "wait_time_0",
        *(f"wait_time_{step}" for step in MINUTE_STEPS),
        "wait_time_more",
    )
