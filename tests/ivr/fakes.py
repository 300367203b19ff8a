"""Typed fakes for the IVR interpreter: a scripted caller on a fake channel, and an in-memory journal.

The caller's script is a list of actions, consumed in order as the IVR plays and listens:

* ``Press("1")``: press a key when the IVR waits for one (``wait_for_digit``, after its prompts);
* ``BargeIn("1")``: press a key while a prompt is playing (type-ahead); ``during="main_menu"`` waits for that
  prompt (earlier prompts play to the end), otherwise the next interruptible prompt is cut;
* ``Wait()``: say nothing until the IVR times out (``wait_for_digit`` or ``get_data``);
* ``Type("600100200")``: key in digits at a ``get_data`` prompt;
* ``HangUp()``: hang up at the next command (or ``during`` a given prompt).

An IVR that asks for input the script does not have fails the test with :class:`ScriptError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.fastagi import CallerHungUp, DigitInput


@dataclass(frozen=True)
class Press:
    key: str


@dataclass(frozen=True)
class BargeIn:
    key: str
    during: str | None = None


@dataclass(frozen=True)
class Wait:
    pass


@dataclass(frozen=True)
class Type:
    digits: str


@dataclass(frozen=True)
class HangUp:
    during: str | None = None


Action = Press | BargeIn | Wait | Type | HangUp


class ScriptError(AssertionError):
    """The IVR did something the caller's script did not expect."""


@dataclass(frozen=True)
class FakeEnvironment:
    uniqueid: str = "1700000000.1"
    callerid: str = "600100200"
    calleridname: str = ""
    language: str = "pl"


@dataclass
class FakeChannel:
    """Implements ``ivr.session.CallChannel``; records what the caller heard and which variables were set."""

    script: list[Action]
    env: FakeEnvironment = field(default_factory=FakeEnvironment)
    sounds_dir: str = "/sounds"
    answered: bool = False
    hung_up: bool = False
    # What the caller heard, in order: "pl/greeting" for prompts, "digits:600100200" for SAY DIGITS.
    heard: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    waits: list[int] = field(default_factory=list)  # timeouts of wait_for_digit, in ms

    # -- helpers

    def _check_alive(self, during: str | None = None) -> None:
        if self.hung_up:
            raise CallerHungUp("the caller has hung up")
        if self.script and isinstance(self.script[0], HangUp):
            action = self.script[0]
            if action.during is None or action.during == during:
                self.script.pop(0)
                self.hung_up = True
                raise CallerHungUp(f"caller hung up{f' during {during}' if during else ''}")

    def _next(self, what: str) -> Action:
        if not self.script:
            raise ScriptError(f"the IVR {what}, but the caller's script is done; heard so far: {self.heard}")
        return self.script.pop(0)

    def _prompt(self, filename: str) -> str:
        prefix = self.sounds_dir + "/"
        if not filename.startswith(prefix):
            raise ScriptError(f"prompt {filename!r} is not under {self.sounds_dir!r}")
        return filename[len(prefix) :]

    def _barge_in(self, escape_digits: str, name: str) -> str | None:
        if not escape_digits or not self.script or not isinstance(self.script[0], BargeIn):
            return None
        action = self.script[0]
        if action.during is not None and action.during != name:
            return None
        if action.key not in escape_digits:
            raise ScriptError(f"{action.key!r} pressed during {name}, which {escape_digits!r} does not stop")
        self.script.pop(0)
        return action.key

    @property
    def prompts(self) -> list[str]:
        """The prompts heard, as "<lang>/<id>"."""
        return [item for item in self.heard if not item.startswith("digits:")]

    def prompt_ids(self) -> list[str]:
        return [item.split("/", 1)[1] for item in self.prompts]

    # -- the channel API

    async def answer(self) -> None:
        self._check_alive()
        self.answered = True

    async def stream_file(self, filename: str, escape_digits: str = "") -> str | None:
        name = self._prompt(filename)
        prompt_id = name.split("/", 1)[1]
        self._check_alive(prompt_id)
        self.heard.append(name)
        return self._barge_in(escape_digits, prompt_id)

    async def get_data(self, filename: str, timeout_ms: int, max_digits: int) -> DigitInput:
        name = self._prompt(filename)
        self._check_alive(name.split("/", 1)[1])
        self.heard.append(name)
        action = self._next(f"collects digits after {name}")
        if isinstance(action, Type):
            if len(action.digits) > max_digits:
                raise ScriptError(f"{action.digits!r} is longer than max_digits={max_digits}")
            return DigitInput(digits=action.digits, timed_out=False)
        if isinstance(action, Wait):
            return DigitInput(digits="", timed_out=True)
        raise ScriptError(f"the IVR collects digits after {name}, but the caller's next action is {action}")

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        self._check_alive()
        self.waits.append(timeout_ms)
        action = self._next("waits for a key")
        if isinstance(action, Press):
            return action.key
        if isinstance(action, Wait):
            return None
        raise ScriptError(f"the IVR waits for a key, but the caller's next action is {action}")

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        self._check_alive("digits")
        self.heard.append(f"digits:{digits}")
        return self._barge_in(escape_digits, "digits")

    async def get_variable(self, name: str) -> str | None:
        self._check_alive()
        return self.variables.get(name)

    async def set_variable(self, name: str, value: str) -> None:
        self._check_alive()
        self.variables[name] = value


@dataclass
class FakeJournal:
    """Implements ``ivr.session.CallJournal`` in memory."""

    recent: str | None = None
    steps: list[tuple[str, str | None]] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    finished: list[tuple[str, str | None]] = field(default_factory=list)
    callbacks: list[tuple[str, str, bool]] = field(default_factory=list)
    recent_topic_asked: int = 0

    async def step(self, node: str, key: str | None) -> None:
        self.steps.append((node, key))

    async def set_language(self, language: str) -> None:
        self.languages.append(language)

    async def set_topic(self, topic: str) -> None:
        self.topics.append(topic)

    async def finish(self, outcome: str, queue: str | None = None) -> None:
        self.finished.append((outcome, queue))

    async def recent_topic(self) -> str | None:
        self.recent_topic_asked += 1
        return self.recent

    async def request_callback(self, number: str, topic: str, consent: bool) -> None:
        self.callbacks.append((number, topic, consent))
