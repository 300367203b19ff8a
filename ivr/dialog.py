"""Talking with a caller: play prompts, read keys, ask a question with retries.

A :class:`Dialog` is what every conversation of the IVR is built on (the menu, the call-back request, a
spoken question, later a survey). Keys can be typed during any prompt: a key pressed while something that
asks nothing is playing is kept and answers the next question. A spoken question (:meth:`Dialog.ask_spoken`)
is answered in words or by a key, which always wins.

The channel is the FastAGI channel of :mod:`ivr.fastagi`; only the part described by :class:`CallChannel` is
used, so tests drive a dialog with a scripted fake caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ivr.prompts import prompt_file
from ivr.speech.listen import Listened, SpeechListener

# Keys that interrupt a prompt: every key, so that type-ahead works and `*`/`#` are seen.
ALL_KEYS = "0123456789*#"
REPEAT_KEY = "*"
BACK_KEY = "#"


# --- What a dialog needs from the outside -------------------------------------------------------------------


class CallerEnvironment(Protocol):
    """The part of the AGI environment (``agi_*`` headers) the IVR reads."""

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
    """The part of ``ivr.fastagi.Channel`` the IVR uses. Every method raises
    :class:`ivr.fastagi.CallerHungUp` once the caller has hung up."""

    @property
    def env(self) -> CallerEnvironment: ...
    async def answer(self) -> None: ...
    async def stream_file(self, filename: str, escape_digits: str = "") -> str | None: ...
    async def get_data(self, filename: str, timeout_ms: int, max_digits: int) -> DigitEntry: ...
    async def wait_for_digit(self, timeout_ms: int) -> str | None: ...
    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None: ...
    async def get_variable(self, name: str) -> str | None: ...
    async def set_variable(self, name: str, value: str) -> None: ...
    async def exec(self, application: str, *args: str) -> str: ...


class StepJournal(Protocol):
    async def step(self, node: str, key: str | None) -> None:
        """A node entered (``key`` None) or what the caller did there: a key, "timeout", "invalid:7"."""

    async def heard(self, node: str, text: str, confidence: float, key: str | None) -> None:
        """What the caller said at ``node`` (recognised ``text``, "" for silence), how sure the recogniser
        was, and what it meant: a key, or a node of its own (None: not understood). No audio is kept."""


# --- What is played -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    prompt_id: str
    language: str


@dataclass(frozen=True)
class Digits:
    """Digits read out one by one (a phone number read back)."""

    digits: str


Item = Prompt | Digits


@dataclass(frozen=True)
class Question:
    """How a question with a fixed set of answers is asked: how long to wait, how often, what to say."""

    timeout_ms: int
    max_tries: int
    no_input: str  # prompt id: nothing was pressed
    invalid_key: str  # prompt id: a key that is not an answer


class GaveUp(Exception):
    """The caller failed a question ``max_tries`` times; the message names the question."""


class Dialog:
    """Prompts and keys on one call, in the caller's current ``language``."""

    def __init__(
        self,
        channel: CallChannel,
        journal: StepJournal,
        *,
        sounds_dir: str,
        language: str,
        speech: SpeechListener | None = None,
    ) -> None:
        self.channel = channel
        self.speech = speech  # None: keys only
        self.journal = journal
        self.sounds_dir = sounds_dir
        self.language = language
        self.pending: str | None = None  # a key typed ahead during a prompt that asked nothing
        self.keys_pressed = 0  # in the whole call: a caller who presses none is helped differently

    def file(self, item: Prompt) -> str:
        """The prompt's file as Asterisk finds it (:func:`ivr.prompts.prompt_file`)."""
        return prompt_file(self.sounds_dir, item.language, item.prompt_id)

    def prompts(self, prompt_ids: Sequence[str], language: str | None = None) -> list[Item]:
        return [Prompt(p, language or self.language) for p in prompt_ids]

    def forget_typed_ahead(self) -> None:
        """Drop a key typed ahead: what comes next must not be answered by it."""
        self.pending = None

    async def play(self, items: Sequence[Item], *, interruptible: bool) -> str | None:
        """Play items in order; with ``interruptible``, stop at the first key pressed and return it."""
        escape = ALL_KEYS if interruptible else ""
        for item in items:
            if isinstance(item, Prompt):
                key = await self.channel.stream_file(self.file(item), escape_digits=escape)
            else:
                key = await self.channel.say_digits(item.digits, escape_digits=escape)
            if key and interruptible:
                self.keys_pressed += 1
                return key
        return None

    async def ask(self, items: Sequence[Item], timeout_ms: int) -> str | None:
        """Play a question and wait for one key (None: timeout). A key typed ahead answers it at once."""
        if self.pending is not None:
            typed_ahead, self.pending = self.pending, None
            return typed_ahead
        key = await self.play(items, interruptible=True)
        if key is None:
            key = await self.channel.wait_for_digit(timeout_ms)
            if key:
                self.keys_pressed += 1
        return key or None

    async def ask_spoken(self, items: Sequence[Item], phrases: Sequence[str]) -> Listened:
        """Play a question that may be answered in words (one of ``phrases``) or by a key: a key typed ahead
        answers at once, without listening; a key pressed during the question or while listening answers
        at once too. The question is played over the AudioSocket while the caller is already heard, so
        words said over it count (barge-in by voice); when its prompts cannot be played that way (digits
        read out, a prompt file this side cannot read), Asterisk plays it first and a key cuts it. Without
        speech (or while every recognition stream is busy) the outcome says so at once."""
        if self.pending is not None:
            typed_ahead, self.pending = self.pending, None
            return Listened("key", key=typed_ahead)
        if self.speech is None:
            return Listened("failed")
        stream = self.speech.reserve(phrases)
        if stream is None:
            return Listened("busy")
        with stream:
            prompts = [(i.language, i.prompt_id) for i in items if isinstance(i, Prompt)]
            audio = await self.speech.prompt_audio(prompts) if len(prompts) == len(items) else None
            if audio is not None:
                listened = await self.speech.listen(self.channel, stream, prompt=audio)
            else:
                key = await self.play(items, interruptible=True)
                if key is not None:
                    return Listened("key", key=key)
                listened = await self.speech.listen(self.channel, stream)
        if listened.key is not None:
            self.keys_pressed += 1
        return listened

    async def tell(self, items: Sequence[Item]) -> None:
        """Play something that asks nothing; a key pressed meanwhile is kept for the next question."""
        if self.pending is None:
            self.pending = await self.play(items, interruptible=True)

    async def choose(
        self, step: str, items: Sequence[Item], keys: str, question: Question, *, back: bool = False
    ) -> str:
        """A question answered by one of ``keys`` (or ``#`` when ``back``); ``*`` repeats it. Each answer is
        a step of the journal; after ``question.max_tries`` failures raises :class:`GaveUp`."""
        failures = 0
        while True:
            key = await self.ask(items, question.timeout_ms)
            if key is not None and (key in keys or (back and key == BACK_KEY)):
                await self.journal.step(step, key)
                return key
            if key == REPEAT_KEY:
                await self.journal.step(step, key)
                continue
            await self.journal.step(step, "timeout" if key is None else f"invalid:{key}")
            failures += 1
            if failures >= question.max_tries:
                raise GaveUp(step)
            await self.tell(self.prompts([question.no_input if key is None else question.invalid_key]))
