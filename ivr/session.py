"""The 19524 menu interpreter: runs a validated :class:`ivr.menu.Menu` on a live call.

Dialplan contract of :func:`run_ivr`: reads nothing; sets ``HOTLINE_LANGUAGE`` when the caller picks a
language, ``HOTLINE_TOPIC`` when a topic is reached, ``HOTLINE_QUEUE`` only when the caller should be queued
(the dialplan then runs ``Queue(${HOTLINE_QUEUE})``) and ``HOTLINE_OUTCOME`` always, last. An empty
``HOTLINE_OUTCOME`` therefore means the IVR failed, and the dialplan queues the caller by itself.

The channel is the FastAGI channel of :mod:`ivr.fastagi`; only the part described by :class:`CallChannel` is
used. Everything the caller does is written to a :class:`CallJournal`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import phonenumbers

from ivr.fastagi import CallerHungUp
from ivr.hours import OpeningHours
from ivr.menu import (
    BACK,
    REPEAT,
    EndNode,
    LanguageNode,
    Menu,
    MenuNode,
    QueueNode,
    ReturningCallerNode,
)

log = logging.getLogger(__name__)

# Keys that interrupt a prompt: every key, so that type-ahead works and `*`/`#` are seen.
ALL_KEYS = "0123456789*#"
REPEAT_KEY = "*"
BACK_KEY = "#"

VAR_LANGUAGE = "HOTLINE_LANGUAGE"
VAR_TOPIC = "HOTLINE_TOPIC"
VAR_QUEUE = "HOTLINE_QUEUE"
VAR_OUTCOME = "HOTLINE_OUTCOME"


class Outcome(StrEnum):
    QUEUED = "queued"
    SELF_SERVICE = "self_service"
    CALLBACK_REQUESTED = "callback_requested"
    HUNG_UP_IN_MENU = "hung_up_in_menu"


# --- What the interpreter needs from the outside ------------------------------------------------------------


class CallerEnvironment(Protocol):
    """The part of the AGI environment (``agi_*`` headers) the interpreter reads."""

    @property
    def uniqueid(self) -> str: ...
    @property
    def callerid(self) -> str: ...  # "unknown" when withheld
    @property
    def calleridname(self) -> str: ...
    @property
    def language(self) -> str: ...


class DigitEntry(Protocol):
    """What ``get_data`` returns: the digits typed (without the ending ``#``), and whether it timed out."""

    @property
    def digits(self) -> str: ...
    @property
    def timed_out(self) -> bool: ...


class CallChannel(Protocol):
    """The part of ``ivr.fastagi.Channel`` the interpreter uses. Every method raises
    :class:`CallerHungUp` once the caller has hung up."""

    @property
    def env(self) -> CallerEnvironment: ...
    async def answer(self) -> None: ...
    async def stream_file(self, filename: str, escape_digits: str = "") -> str | None: ...
    async def get_data(self, filename: str, timeout_ms: int, max_digits: int) -> DigitEntry: ...
    async def wait_for_digit(self, timeout_ms: int) -> str | None: ...
    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None: ...
    async def get_variable(self, name: str) -> str | None: ...
    async def set_variable(self, name: str, value: str) -> None: ...


class CallJournal(Protocol):
    """Where the interpreter records the call (implemented on the database)."""

    async def step(self, node: str, key: str | None) -> None:
        """A node entered (``key`` None) or what the caller did there: a key, "timeout", "invalid:7"."""

    async def set_language(self, language: str) -> None: ...
    async def set_topic(self, topic: str) -> None: ...
    async def finish(self, outcome: str, queue: str | None = None) -> None:
        """The call leaves the IVR: "queued", "self_service", "callback_requested" or "hung_up_in_menu"."""

    async def recent_topic(self) -> str | None:
        """The topic of this caller number's recent call, or None."""

    async def request_callback(self, number: str, topic: str, consent: bool) -> None:
        """Store a call-back request (deduplicated by the store)."""


# --- Phone numbers ------------------------------------------------------------------------------------------

_WITHHELD = frozenset({"", "unknown", "anonymous", "restricted", "private", "unavailable", "withheld"})


@dataclass(frozen=True)
class PhoneNumber:
    e164: str  # as stored for the call-back: "+48600123456"
    spoken: str  # as read back to the caller: "600123456" (home region) or "0038067…"


def parse_phone_number(raw: str, region: str = "PL") -> PhoneNumber | None:
    """A caller ID or a number typed on the keypad as a valid phone number, or None.

    Typed numbers abroad start with ``00``; numbers without a country code are numbers of ``region``.
    """
    text = raw.strip()
    if text.lower() in _WITHHELD:
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits or len(digits) > 17 or any(not (ch.isdigit() or ch in "+-() ") for ch in text):
        return None
    if text.startswith("+"):
        candidate = "+" + digits
    elif digits.startswith("00"):
        candidate = "+" + digits[2:]
    else:
        candidate = digits
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    national = phonenumbers.national_significant_number(number)
    home = phonenumbers.region_code_for_number(number) == region
    return PhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        spoken=national if home else f"00{number.country_code}{national}",
    )


# --- The interpreter ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IvrResult:
    outcome: Outcome
    queue: str | None
    language: str
    topic: str | None


@dataclass(frozen=True)
class _Prompt:
    prompt_id: str
    language: str


@dataclass(frozen=True)
class _Digits:
    digits: str


_Item = _Prompt | _Digits


@dataclass(frozen=True)
class _Goto:
    node: str
    # A menu to put in the back-history first (so `#` from a returning caller's topic leads to the main menu).
    via: str | None = None


@dataclass(frozen=True)
class _Back:
    """Leave the current menu for the previous one (`#`)."""


@dataclass(frozen=True)
class _Resume:
    """Return to the menu the caller came from (declining a call-back)."""


@dataclass(frozen=True)
class _Finish:
    outcome: Outcome
    queue: str | None = None


_Step = _Goto | _Back | _Resume | _Finish


class _GaveUp(Exception):
    """The caller failed a call-back question ``max_tries`` times."""


class _Call:
    def __init__(
        self,
        channel: CallChannel,
        menu: Menu,
        hours: OpeningHours,
        journal: CallJournal,
        *,
        sounds_dir: str,
        now: Callable[[], datetime],
        region: str,
    ) -> None:
        self.channel = channel
        self.menu = menu
        self.hours = hours
        self.journal = journal
        self.sounds_dir = sounds_dir.rstrip("/")
        self.now = now
        self.region = region
        self.uniqueid = channel.env.uniqueid
        self.language = next((n.default for n in menu.nodes.values() if isinstance(n, LanguageNode)), "pl")
        self.topic: str | None = None
        # The topic of the menu the caller is in now: going back (#) to a menu without one clears it.
        self.menu_topic: str | None = None
        self.reached_information = False
        self.history: list[str] = []  # menu and language nodes, current last
        self.pending: str | None = None  # a key typed ahead during a prompt that asked nothing

    # -- playing

    def _file(self, item: _Prompt) -> str:
        return f"{self.sounds_dir}/{item.language}/{item.prompt_id}"

    def _prompts(self, prompt_ids: Sequence[str], language: str | None = None) -> list[_Item]:
        return [_Prompt(p, language or self.language) for p in prompt_ids]

    async def _play(self, items: Sequence[_Item], *, interruptible: bool) -> str | None:
        """Play items in order; with ``interruptible``, stop at the first key pressed and return it."""
        escape = ALL_KEYS if interruptible else ""
        for item in items:
            if isinstance(item, _Prompt):
                key = await self.channel.stream_file(self._file(item), escape_digits=escape)
            else:
                key = await self.channel.say_digits(item.digits, escape_digits=escape)
            if key and interruptible:
                return key
        return None

    async def _ask(self, items: Sequence[_Item], timeout_ms: int) -> str | None:
        """Play a question and wait for one key (None: timeout). A key typed ahead answers it at once."""
        if self.pending is not None:
            typed_ahead, self.pending = self.pending, None
            return typed_ahead
        key = await self._play(items, interruptible=True)
        if key is None:
            key = await self.channel.wait_for_digit(timeout_ms)
        return key or None

    async def _tell(self, items: Sequence[_Item]) -> None:
        """Play something that asks nothing; a key pressed meanwhile is kept for the next question."""
        if self.pending is None:
            self.pending = await self._play(items, interruptible=True)

    # -- state

    async def _set_language(self, language: str) -> None:
        self.language = language
        await self.journal.set_language(language)
        await self.channel.set_variable(VAR_LANGUAGE, language)

    async def _set_topic(self, topic: str) -> None:
        if topic != self.topic:
            self.topic = topic
            await self.journal.set_topic(topic)
            await self.channel.set_variable(VAR_TOPIC, topic)

    def result(self, outcome: Outcome, queue: str | None = None) -> IvrResult:
        return IvrResult(outcome=outcome, queue=queue, language=self.language, topic=self.topic)

    def hung_up_result(self) -> IvrResult:
        # A caller who heard a topic's information and hung up was served by the self-service menu.
        outcome = Outcome.SELF_SERVICE if self.reached_information else Outcome.HUNG_UP_IN_MENU
        return self.result(outcome)

    # -- the walk

    async def run(self) -> IvrResult:
        await self.channel.answer()
        target = self.menu.root
        arrived = True  # entered by going forward (intros play, the node joins the back-history)
        while True:
            node = self.menu.node(target)
            step: _Step
            if isinstance(node, LanguageNode | MenuNode):
                if arrived:
                    self.history.append(node.id)
                if isinstance(node, LanguageNode):
                    step = await self._language(node, arrived=arrived)
                else:
                    step = await self._menu(node, arrived=arrived)
            elif isinstance(node, ReturningCallerNode):
                step = await self._returning(node)
            elif isinstance(node, QueueNode):
                step = await self._queue(node)
            else:
                step = await self._end(node)

            if isinstance(step, _Finish):
                return self.result(step.outcome, step.queue)
            if isinstance(step, _Goto):
                if step.via is not None:
                    self.history.append(step.via)
                target, arrived = step.node, True
            else:
                if isinstance(step, _Back):
                    self.history.pop()
                target, arrived = self.history[-1], False

    async def _language(self, node: LanguageNode, *, arrived: bool) -> _Step:
        await self.journal.step(node.id, None)
        offered = list(dict.fromkeys(node.languages.values()))
        choices = [item for lang in offered for item in self._prompts(node.prompts, lang)]
        items = [*self._prompts(node.intro, node.default), *choices] if arrived else choices
        failures = 0
        while True:
            key = await self._ask(items, node.timeout_ms)
            items = choices
            if key is None:
                await self.journal.step(node.id, "timeout")
                chosen = node.default
            elif key in node.languages:
                await self.journal.step(node.id, key)
                chosen = node.languages[key]
            elif key in (REPEAT_KEY, BACK_KEY):
                await self.journal.step(node.id, key)
                continue
            else:
                await self.journal.step(node.id, f"invalid:{key}")
                failures += 1
                if failures < node.max_tries:
                    await self._tell(self._prompts([self.menu.messages.invalid_key], node.default))
                    continue
                chosen = node.default
            await self._set_language(chosen)
            if chosen != node.default and node.repeat_intro:
                await self._tell(self._prompts(node.intro))
            return _Goto(node.next)

    async def _returning(self, node: ReturningCallerNode) -> _Step:
        # A caller who already typed ahead knows where they are going: no offer.
        if self.pending is not None:
            return _Goto(node.next)
        recent = await self.journal.recent_topic()
        topic = self.menu.topics.get(recent) if recent is not None else None
        if topic is None:
            return _Goto(node.next)
        await self.journal.step(node.id, None)
        items = self._prompts([*node.prompts, topic.name, *node.after_topic])
        key = await self._ask(items, node.timeout_ms)
        await self.journal.step(node.id, key or "timeout")
        if key == node.key:
            return _Goto(topic.node, via=node.next)
        return _Goto(node.next)

    async def _menu(self, node: MenuNode, *, arrived: bool) -> _Step:
        await self.journal.step(node.id, None)
        self.menu_topic = node.topic
        if node.topic is not None:
            self.reached_information = True
            await self._set_topic(node.topic)
        prompts = self._prompts(node.prompts)
        items = [*self._prompts(node.intro), *prompts] if arrived else prompts
        failures = 0
        while True:
            key = await self._ask(items, node.timeout_ms)
            items = prompts
            if key is None:
                await self.journal.step(node.id, "timeout")
                error = self.menu.messages.no_input
            elif key == REPEAT_KEY or node.options.get(key) == REPEAT:
                await self.journal.step(node.id, key)
                continue
            elif key == BACK_KEY or node.options.get(key) == BACK:
                await self.journal.step(node.id, key)
                if len(self.history) > 1:
                    return _Back()
                continue  # nothing to go back to: say it again
            elif key in node.options:
                await self.journal.step(node.id, key)
                return _Goto(node.options[key])
            else:
                await self.journal.step(node.id, f"invalid:{key}")
                error = self.menu.messages.invalid_key
            failures += 1
            if failures >= node.max_tries:
                log.info(
                    "call %s: %d failed tries in %s, falling back to %s",
                    self.uniqueid,
                    failures,
                    node.id,
                    node.fallback,
                )
                await self._play(self._prompts([error]), interruptible=False)
                return _Goto(node.fallback)
            await self._tell(self._prompts([error]))

    async def _queue(self, node: QueueNode) -> _Step:
        await self.journal.step(node.id, None)
        self.reached_information = False  # asking for a consultant: self-service did not settle it
        # The caller asks for a consultant about the topic of where they are now, not of where they were.
        await self._set_topic(self.menu_topic or self.menu.default_topic)
        self.pending = None
        if self.hours.is_open(self.now()):
            await self._play(self._prompts(node.prompts), interruptible=False)
            return _Finish(Outcome.QUEUED, node.queue)
        return await self._callback()

    async def _end(self, node: EndNode) -> _Step:
        await self.journal.step(node.id, None)
        await self._play(self._prompts(node.prompts), interruptible=False)
        return _Finish(Outcome.SELF_SERVICE)

    # -- outside the consultants' hours: a call-back request

    async def _choose(self, step: str, items: Sequence[_Item], keys: str, *, back: bool = False) -> str:
        """One call-back question answered by one of ``keys`` (or ``#`` when ``back``), with retries."""
        flow = self.menu.callback
        failures = 0
        while True:
            key = await self._ask(items, flow.timeout_ms)
            if key is not None and (key in keys or (back and key == BACK_KEY)):
                await self.journal.step(step, key)
                return key
            if key == REPEAT_KEY:
                await self.journal.step(step, key)
                continue
            await self.journal.step(step, "timeout" if key is None else f"invalid:{key}")
            error = self.menu.messages.no_input if key is None else self.menu.messages.invalid_key
            failures += 1
            if failures >= flow.max_tries:
                raise _GaveUp(step)
            await self._tell(self._prompts([error]))

    async def _callback(self) -> _Step:
        flow = self.menu.callback
        await self.journal.step("callback", None)
        await self._tell(self._prompts([flow.closed]))
        try:
            offer = self._prompts([flow.offer])
            if await self._choose("callback_offer", offer, "1", back=bool(self.history)) == BACK_KEY:
                return _Resume()
            number = await self._callback_number()
            consent = await self._choose("callback_consent", self._prompts([flow.consent]), "12")
        except _GaveUp as exc:
            log.info("call %s: no answer to %s, ending without a call-back", self.uniqueid, exc)
            await self._play(self._prompts([flow.not_registered, flow.goodbye]), interruptible=False)
            return _Finish(Outcome.SELF_SERVICE)
        if consent != "1":
            await self._play(self._prompts([flow.not_registered, flow.goodbye]), interruptible=False)
            return _Finish(Outcome.SELF_SERVICE)
        await self.journal.request_callback(number, self.topic or self.menu.default_topic, True)
        log.info("call %s: call-back requested (topic %s)", self.uniqueid, self.topic)
        await self._play(self._prompts([flow.registered, flow.goodbye]), interruptible=False)
        return _Finish(Outcome.CALLBACK_REQUESTED)

    async def _callback_number(self) -> str:
        """The number to call back, in E.164: the caller's own, confirmed, or one typed in and read back."""
        flow = self.menu.callback
        caller = parse_phone_number(self.channel.env.callerid, self.region)
        if caller is not None:
            items = [
                *self._prompts([flow.caller_number]),
                _Digits(caller.spoken),
                *self._prompts([flow.caller_number_keys]),
            ]
            if await self._choose("callback_caller_number", items, "12") == "1":
                return caller.e164
        failures = 0
        while True:
            self.pending = None  # get_data plays its prompt and collects the digits itself
            entry = await self.channel.get_data(
                self._file(_Prompt(flow.enter_number, self.language)), flow.entry_timeout_ms, flow.max_digits
            )
            typed = entry.digits.strip()
            number = parse_phone_number(typed, self.region) if typed else None
            if number is None:
                # The journal never gets the typed digits: they are personal data.
                await self.journal.step("callback_number", "invalid_number" if typed else "timeout")
                failures += 1
                if failures >= flow.max_tries:
                    raise _GaveUp("callback_number")
                error = flow.number_invalid if typed else self.menu.messages.no_input
                await self._play(self._prompts([error]), interruptible=False)
                continue
            await self.journal.step("callback_number", "entered")
            items = [*self._prompts([flow.readback]), _Digits(typed), *self._prompts([flow.confirm])]
            if await self._choose("callback_confirm", items, "12") == "1":
                return number.e164


async def run_ivr(
    channel: CallChannel,
    menu: Menu,
    hours: OpeningHours,
    journal: CallJournal,
    *,
    sounds_dir: str,
    now: Callable[[], datetime],
    region: str = "PL",
) -> IvrResult:
    """Run the 19524 menu on ``channel`` until the caller is to be queued, is served, or hangs up.

    - ``menu``: validated at service start by :func:`ivr.menu.load_menu` against the prompt catalog, which
      is therefore not needed here.
    - ``hours``: when consultants answer; outside them a consultant choice becomes a call-back offer.
    - ``journal``: records the call, gives the caller's recent topic, stores call-back requests.
    - ``sounds_dir``: the prompts' folder as Asterisk sees it; files are ``{sounds_dir}/{lang}/{prompt_id}``.
    - ``now``: the clock (aware datetimes), injectable for tests.
    - ``region``: how phone numbers without a country code are read (settings ``default_region``).

    Sets the channel variables of the module docstring and calls ``journal.finish`` exactly once. A hang-up
    is not an error: it ends as ``hung_up_in_menu`` (or ``self_service`` after a topic's information).
    Other exceptions propagate to the AGI server, and the dialplan queues the caller itself.
    """
    call = _Call(channel, menu, hours, journal, sounds_dir=sounds_dir, now=now, region=region)
    try:
        result = await call.run()
    except CallerHungUp:
        result = call.hung_up_result()
        log.info("call %s: caller hung up in the IVR (%s)", call.uniqueid, result.outcome)
        await journal.finish(result.outcome, None)
        return result
    try:
        if result.queue is not None:
            await channel.set_variable(VAR_QUEUE, result.queue)
        await channel.set_variable(VAR_OUTCOME, result.outcome)
    except CallerHungUp:
        if result.outcome is Outcome.QUEUED:
            result = replace(result, outcome=Outcome.HUNG_UP_IN_MENU, queue=None)
    await journal.finish(result.outcome, result.queue)
    return result
