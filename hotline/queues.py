"""The consultants' queues, as data (``hotline/queues.yaml``, settings ``queues_file``).

One owner of queue names: the IVR's menu is validated against :class:`Queues` (its topics), consultants'
skills name a topic and a language, and the Asterisk configuration (``queues.conf``, ``queuerules.conf``, the
dialplan's ``[hotline-queues]`` and ``[hotline-consultants]``) is rendered from it by
:mod:`hotline.asterisk_config`.

Routing by skill and language is Asterisk's own: there is one Asterisk queue per topic and language
(``jobs-uk``), every consultant is a member of it with a *penalty* that says how well they fit
(:meth:`Queues.penalty`), and a queue rule raises the highest penalty offered as the caller waits
(:attr:`Queues.routing`). Python only logs consultants in and out with the right penalties.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hotline.datafiles import read_data_file

QUEUES_VERSION = 2
# A topic's name is used in Asterisk section and extension names: lower case letters, digits, underscores.
QUEUE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
LANGUAGE = re.compile(r"^[a-z]{2}$")
# Skill levels: 1 (can help), 2 (good), 3 (expert). A better level gets the call first.
LEVELS = (1, 2, 3)
# The rule Asterisk applies to every caller (queuerules.conf).
RULE_NAME = "hotline-widen"
# The reason the hotline itself gives when a consultant lets a call ring out.
NO_ANSWER = "no_answer"

# Who each routing step reaches, and the penalties it covers (Queues.penalty):
#   topic     0..2    the topic in the caller's language, 3 - level
#   language  10..12  the caller's language, another topic: 10 + 3 - best level in that language
#   anyone    20      everyone else
REACH_MAX_PENALTY = {"topic": 2, "language": 12, "anyone": 20}


def topic_of(asterisk_queue: str) -> str:
    """The topic of an Asterisk queue's name (``jobs-uk`` → ``jobs``); a name without a language stays."""
    topic, dash, _language = asterisk_queue.rpartition("-")
    return topic if dash else asterisk_queue


class QueuesError(Exception):
    """The queues file is invalid."""


@dataclass(frozen=True)
class Queue:
    """A topic: callers of each language wait in the Asterisk queue ``<name>-<language>``."""

    name: str
    description: str
    # Every consultant who speaks the language serves this topic at the first step (the general queue).
    any_topic: bool = False


@dataclass(frozen=True)
class RoutingStep:
    after: int
    reach: str

    @property
    def max_penalty(self) -> int:
        return REACH_MAX_PENALTY[self.reach]


@dataclass(frozen=True)
class PauseReason:
    name: str
    label: str
    # The digit of the phone's feature code (*3<code>); None: set by the hotline only (no_answer).
    code: int | None


@dataclass(frozen=True)
class Skill:
    topic: str
    language: str
    level: int


@dataclass(frozen=True)
class AsteriskQueue:
    name: str
    topic: str
    language: str


@dataclass(frozen=True)
class Queues:
    default: str
    by_name: Mapping[str, Queue]
    languages: tuple[str, ...] = ("pl",)
    routing: tuple[RoutingStep, ...] = (RoutingStep(0, "topic"),)
    ring_seconds: int = 15
    wrapup_seconds: int = 15
    callback_key: str = "5"
    pause_reasons: Mapping[str, PauseReason] = field(default_factory=lambda: MappingProxyType({}))

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __iter__(self) -> Iterator[Queue]:
        return iter(self.by_name.values())

    @property
    def names(self) -> frozenset[str]:
        """The topics (what the IVR's menu names)."""
        return frozenset(self.by_name)

    @staticmethod
    def asterisk_name(topic: str, language: str) -> str:
        return f"{topic}-{language}"

    def asterisk_queues(self) -> list[AsteriskQueue]:
        return [
            AsteriskQueue(self.asterisk_name(queue.name, language), queue.name, language)
            for queue in self
            for language in self.languages
        ]

    def parse_asterisk_name(self, name: str) -> AsteriskQueue | None:
        """The topic and language of an Asterisk queue's name, or None for a name that is not ours."""
        topic, _, language = name.rpartition("-")
        if topic in self.by_name and language in self.languages:
            return AsteriskQueue(name, topic, language)
        return None

    @property
    def initial_max_penalty(self) -> int:
        return self.routing[0].max_penalty

    def penalty(self, skills: Iterable[Skill], topic: str, language: str) -> int | None:
        """The penalty of a consultant with ``skills`` in the queue of ``topic`` and ``language``: lower is
        offered first; None when no routing step ever reaches them (they are not a member)."""
        skills = list(skills)
        in_language = [s.level for s in skills if s.language == language]
        on_topic = [s.level for s in skills if s.language == language and s.topic == topic]
        if self.by_name[topic].any_topic and in_language:
            on_topic = in_language
        reaches = {step.reach for step in self.routing}
        if on_topic:
            return 3 - max(on_topic)
        if in_language and "language" in reaches:
            return 10 + 3 - max(in_language)
        if "anyone" in reaches:
            return REACH_MAX_PENALTY["anyone"]
        return None

    def memberships(self, skills: Iterable[Skill]) -> dict[str, int]:
        """Every Asterisk queue a consultant with ``skills`` belongs to, with their penalty there."""
        skills = list(skills)
        found = {}
        for queue in self.asterisk_queues():
            penalty = self.penalty(skills, queue.topic, queue.language)
            if penalty is not None:
                found[queue.name] = penalty
        return found

    def check_skill(self, skill: Skill) -> None:
        if skill.topic not in self.by_name:
            raise QueuesError(f"unknown topic {skill.topic!r}; topics: {', '.join(sorted(self.by_name))}")
        if skill.language not in self.languages:
            raise QueuesError(f"unknown language {skill.language!r}; languages: {', '.join(self.languages)}")
        if skill.level not in LEVELS:
            raise QueuesError(f"skill level {skill.level!r} is not one of {LEVELS}")

    @classmethod
    def from_data(cls, data: Any, *, origin: str = "queues") -> Queues:
        expected = {"version", "default", "languages", "routing", "ring_seconds", "wrapup_seconds"}
        expected |= {"pause_reasons", "queues", "callback_key"}
        if not isinstance(data, dict) or set(data) != expected:
            raise QueuesError(f"{origin}: expected a mapping with exactly {', '.join(sorted(expected))}")
        if data["version"] != QUEUES_VERSION:
            raise QueuesError(f"{origin}: version {data['version']!r} is not {QUEUES_VERSION}")
        queues = _topics(data["queues"], origin)
        default = data["default"]
        if default not in queues:
            raise QueuesError(f"{origin}: the default queue {default!r} is not one of the queues")
        return cls(
            default=default,
            by_name=MappingProxyType(queues),
            languages=_languages(data["languages"], origin),
            routing=_routing(data["routing"], origin),
            ring_seconds=_seconds(data["ring_seconds"], "ring_seconds", origin, minimum=1),
            wrapup_seconds=_seconds(data["wrapup_seconds"], "wrapup_seconds", origin, minimum=0),
            pause_reasons=MappingProxyType(_pause_reasons(data["pause_reasons"], origin)),
            callback_key=_key(data["callback_key"], origin),
        )

    @classmethod
    def load(cls, path: Path) -> Queues:
        return cls.from_data(read_data_file(path, QueuesError), origin=str(path))


def _topics(raw: Any, origin: str) -> dict[str, Queue]:
    if not isinstance(raw, dict) or not raw:
        raise QueuesError(f"{origin}: 'queues' must be a non-empty mapping of queue names")
    queues: dict[str, Queue] = {}
    for name, body in raw.items():
        if not isinstance(name, str) or not QUEUE_NAME.fullmatch(name):
            raise QueuesError(
                f"{origin}: queue name {name!r} must be lower case letters, digits and underscores"
            )
        if not isinstance(body, dict) or set(body) - {"description", "any_topic"}:
            raise QueuesError(f"{origin}: queue {name!r} may have only a 'description' and 'any_topic'")
        description = body.get("description", "")
        any_topic = body.get("any_topic", False)
        if not isinstance(description, str) or not isinstance(any_topic, bool):
            raise QueuesError(f"{origin}: queue {name!r}: 'description' must be text, 'any_topic' true/false")
        queues[name] = Queue(name, description, any_topic)
    return queues


def _languages(raw: Any, origin: str) -> tuple[str, ...]:
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(x, str) and LANGUAGE.fullmatch(x) for x in raw)
        or len(set(raw)) != len(raw)
    ):
        raise QueuesError(f"{origin}: 'languages' must be a list of distinct two-letter codes")
    return tuple(raw)


def _routing(raw: Any, origin: str) -> tuple[RoutingStep, ...]:
    if not isinstance(raw, list) or not raw:
        raise QueuesError(f"{origin}: 'routing' must be a non-empty list of steps")
    steps = []
    for item in raw:
        if (
            not isinstance(item, dict)
            or set(item) != {"after", "reach"}
            or item["reach"] not in REACH_MAX_PENALTY
        ):
            raise QueuesError(
                f"{origin}: a routing step is {{after: seconds, reach: {'|'.join(REACH_MAX_PENALTY)}}}"
            )
        steps.append(RoutingStep(_seconds(item["after"], "after", origin, minimum=0), item["reach"]))
    if steps[0].after != 0:
        raise QueuesError(f"{origin}: the first routing step must open at 0 seconds")
    for before, after in itertools.pairwise(steps):
        if after.after <= before.after or after.max_penalty <= before.max_penalty:
            raise QueuesError(f"{origin}: routing steps must open later and reach wider, in order")
    return tuple(steps)


def _key(raw: Any, origin: str) -> str:
    if not isinstance(raw, str) or raw not in "123456789" or len(raw) != 1:
        raise QueuesError(f"{origin}: 'callback_key' must be one key from 1 to 9, in quotes")
    return raw


def _seconds(raw: Any, name: str, origin: str, *, minimum: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not minimum <= raw <= 3600:
        raise QueuesError(f"{origin}: {name!r} must be whole seconds from {minimum} to 3600")
    return raw


def _pause_reasons(raw: Any, origin: str) -> dict[str, PauseReason]:
    if not isinstance(raw, dict) or NO_ANSWER not in raw:
        raise QueuesError(f"{origin}: 'pause_reasons' must be a mapping that includes {NO_ANSWER!r}")
    reasons: dict[str, PauseReason] = {}
    codes: set[int] = set()
    for name, body in raw.items():
        if not isinstance(name, str) or not QUEUE_NAME.fullmatch(name):
            raise QueuesError(f"{origin}: pause reason {name!r} must be lower case letters and underscores")
        if (
            not isinstance(body, dict)
            or set(body) - {"code", "label"}
            or not isinstance(body.get("label"), str)
        ):
            raise QueuesError(f"{origin}: pause reason {name!r} is {{code: 1-9, label: text}}")
        code = body.get("code")
        if name == NO_ANSWER:
            if code is not None:
                raise QueuesError(f"{origin}: {NO_ANSWER!r} is set by the hotline only: it has no code")
        elif isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= 9 or code in codes:
            raise QueuesError(f"{origin}: pause reason {name!r} needs its own code from 1 to 9")
        else:
            codes.add(code)
        reasons[name] = PauseReason(name, body["label"], code)
    return reasons
