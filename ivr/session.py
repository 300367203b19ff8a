"""The 19524 menu interpreter: runs a validated :class:`ivr.menu.Menu` on a live call.

Dialplan contract of :func:`run_ivr`: reads nothing; sets ``HOTLINE_LANGUAGE`` when the caller picks a
language, ``HOTLINE_TOPIC`` when a topic is reached, ``HOTLINE_QUEUE`` only when the caller should be queued
(the dialplan then runs ``Queue(${HOTLINE_QUEUE})``) and ``HOTLINE_OUTCOME`` always, last. An empty
``HOTLINE_OUTCOME`` therefore means the IVR failed, and the dialplan queues the caller by itself.

The conversation is a :class:`ivr.dialog.Dialog` (prompts, keys, type-ahead); the call-back request outside
hours is :mod:`ivr.callback`. Everything the caller does is written to a :class:`CallJournal`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Protocol

from hotline.clock import Clock
from hotline.outcomes import CallOutcome
from ivr.callback import CallbackJournal, CallbackResult, offer_callback
from ivr.dialog import BACK_KEY, REPEAT_KEY, CallChannel, Dialog
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
    SpeechQuestion,
)
from ivr.speech.listen import SpeechListener

log = logging.getLogger(__name__)

VAR_LANGUAGE = "HOTLINE_LANGUAGE"
VAR_TOPIC = "HOTLINE_TOPIC"
VAR_QUEUE = "HOTLINE_QUEUE"
VAR_OUTCOME = "HOTLINE_OUTCOME"


# --- What the interpreter needs from the outside ------------------------------------------------------------


class CallJournal(CallbackJournal, Protocol):
    """Where the interpreter records the call (implemented on the call recorder): steps, what the caller
    chose, the call-back request."""

    async def set_language(self, language: str) -> None: ...
    async def set_topic(self, topic: str) -> None: ...
    async def finish(self, outcome: str, queue: str | None = None) -> None:
        """The call leaves the IVR: "queued", "self_service", "callback_requested" or "hung_up_in_menu"."""

    async def recent_topic(self) -> str | None:
        """The topic of this caller number's recent call, or None."""


# --- The interpreter ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IvrResult:
    outcome: CallOutcome
    queue: str | None
    language: str
    topic: str | None


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
    outcome: CallOutcome
    queue: str | None = None


_Step = _Goto | _Back | _Resume | _Finish


class _Call:
    def __init__(
        self,
        channel: CallChannel,
        menu: Menu,
        hours: OpeningHours,
        journal: CallJournal,
        *,
        sounds_dir: str,
        now: Clock,
        region: str,
        speech: SpeechListener | None = None,
        speech_languages: frozenset[str] = frozenset(),
    ) -> None:
        self.channel = channel
        self.menu = menu
        self.hours = hours
        self.journal = journal
        self.now = now
        self.region = region
        self.uniqueid = channel.env.uniqueid
        language = next((n.default for n in menu.nodes.values() if isinstance(n, LanguageNode)), "pl")
        self.dialog = Dialog(channel, journal, sounds_dir=sounds_dir, language=language, speech=speech)
        # The callers' languages the speech model understands; others get the keys only.
        self.speech_languages = speech_languages
        self.spoken_question_asked = False
        self.topic: str | None = None
        # The topic of the menu the caller is in now: going back (#) to a menu without one clears it.
        self.menu_topic: str | None = None
        self.reached_information = False
        self.history: list[str] = []  # menu and language nodes, current last

    @property
    def language(self) -> str:
        return self.dialog.language

    # -- state

    async def _set_language(self, language: str) -> None:
        self.dialog.language = language
        await self.journal.set_language(language)
        await self.channel.set_variable(VAR_LANGUAGE, language)

    async def _set_topic(self, topic: str) -> None:
        if topic != self.topic:
            self.topic = topic
            await self.journal.set_topic(topic)
            await self.channel.set_variable(VAR_TOPIC, topic)

    def result(self, outcome: CallOutcome, queue: str | None = None) -> IvrResult:
        return IvrResult(outcome=outcome, queue=queue, language=self.language, topic=self.topic)

    def hung_up_result(self) -> IvrResult:
        # A caller who heard a topic's information and hung up was served by the self-service menu.
        outcome = CallOutcome.SELF_SERVICE if self.reached_information else CallOutcome.HUNG_UP_IN_MENU
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
        choices = [item for lang in offered for item in self.dialog.prompts(node.prompts, lang)]
        items = [*self.dialog.prompts(node.intro, node.default), *choices] if arrived else choices
        failures = 0
        while True:
            key = await self.dialog.ask(items, node.timeout_ms)
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
                    await self.dialog.tell(
                        self.dialog.prompts([self.menu.messages.invalid_key], node.default)
                    )
                    continue
                chosen = node.default
            await self._set_language(chosen)
            if chosen != node.default and node.repeat_intro:
                await self.dialog.tell(self.dialog.prompts(node.intro))
            return _Goto(node.next)

    async def _returning(self, node: ReturningCallerNode) -> _Step:
        # A caller who already typed ahead knows where they are going: no offer.
        if self.dialog.pending is not None:
            return _Goto(node.next)
        recent = await self.journal.recent_topic()
        topic = self.menu.topics.get(recent) if recent is not None else None
        if topic is None:
            return _Goto(node.next)
        await self.journal.step(node.id, None)
        items = self.dialog.prompts([*node.prompts, topic.name, *node.after_topic])
        key = await self.dialog.ask(items, node.timeout_ms)
        await self.journal.step(node.id, key or "timeout")
        if key == node.key:
            return _Goto(topic.node, via=node.next)
        # Any other key was meant for the menu that follows (a caller who knows it types ahead): it is
        # that menu's answer, never thrown away. The offer's own key is one that menu does not use.
        if key is not None:
            self.dialog.pending = key
        return _Goto(node.next)

    async def _menu(self, node: MenuNode, *, arrived: bool) -> _Step:
        await self.journal.step(node.id, None)
        self.menu_topic = node.topic
        if node.topic is not None:
            self.reached_information = True
            await self._set_topic(node.topic)
        prompts = self.dialog.prompts(node.prompts)
        items = [*self.dialog.prompts(node.intro), *prompts] if arrived else prompts
        if arrived and node.speech is not None and self._speaks(node.speech):
            spoken = await self._spoken(node, node.speech)
            if spoken is not None:
                return spoken
            if self.spoken_question_asked:
                # The intro was heard before the question; a node whose prompts were the question (an
                # advisor's answer) waits for a key before saying them again.
                items = prompts if node.speech.question is not None else []
        failures = 0
        while True:
            key = await self.dialog.ask(items, node.timeout_ms)
            items = prompts
            if key is None:
                await self.journal.step(node.id, "timeout")
                if self.dialog.keys_pressed == 0:
                    # A caller who has pressed no key at all since the answer (a rotary phone, someone who
                    # cannot find the keypad or is lost): a person helps them, not another round of the menu.
                    log.info(
                        "call %s: no key pressed, passing the caller to %s", self.uniqueid, node.fallback
                    )
                    await self.dialog.play(
                        self.dialog.prompts([self.menu.messages.no_input]), interruptible=False
                    )
                    return _Goto(node.fallback)
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
                await self.dialog.play(self.dialog.prompts([error]), interruptible=False)
                return _Goto(node.fallback)
            await self.dialog.tell(self.dialog.prompts([error]))

    def _speaks(self, question: SpeechQuestion) -> bool:
        return (
            self.dialog.speech is not None
            and self.language in self.speech_languages
            and bool(question.phrases(self.language))
        )

    async def _spoken(self, node: MenuNode, question: SpeechQuestion) -> _Step | None:
        """Ask the node's spoken question (one re-prompt after silence or an answer not understood); the
        step to the intent's target, or None for the key menu (with a key pressed meanwhile kept for it)."""
        self.spoken_question_asked = False
        asking = node.prompts if question.question is None else (question.question,)
        items = self.dialog.prompts([*node.intro, *asking])
        for _attempt in range(1 if question.retry is None else 2):
            listened = await self.dialog.ask_spoken(items, question.phrases(self.language))
            if listened.key is not None:
                self.dialog.pending = listened.key  # the key menu answers it at once
                return None
            if listened.heard is None:  # busy, or the audio failed
                await self.journal.step(node.id, f"speech:{listened.outcome}")
                log.info("call %s: no spoken answer at %s (%s)", self.uniqueid, node.id, listened.outcome)
                if listened.outcome != "busy":
                    self.spoken_question_asked = True
                return None
            self.spoken_question_asked = True
            heard = listened.heard
            intent = question.intent_for(self.language, heard.text)
            if intent is not None and heard.confidence < question.min_confidence:
                intent = None
            # What the caller said is in the journal, not in the log.
            log.info(
                "call %s: spoken answer at %s (confidence %.2f): %s",
                self.uniqueid,
                node.id,
                heard.confidence,
                intent,
            )
            await self.journal.heard(node.id, heard.text, heard.confidence, intent)
            if intent is not None:
                return _Goto(node.options.get(intent, intent))
            if question.retry is not None:
                items = self.dialog.prompts([question.retry])
        return None

    async def _queue(self, node: QueueNode) -> _Step:
        await self.journal.step(node.id, None)
        self.reached_information = False  # asking for a consultant: self-service did not settle it
        # The caller asks for a consultant about the topic of where they are now, not of where they were.
        await self._set_topic(self.menu_topic or self.menu.default_topic)
        self.dialog.forget_typed_ahead()
        if self.hours.is_open(self.now()):
            await self.dialog.play(self.dialog.prompts(node.prompts), interruptible=False)
            return _Finish(CallOutcome.QUEUED, node.queue)
        return await self._callback()

    async def _end(self, node: EndNode) -> _Step:
        await self.journal.step(node.id, None)
        await self.dialog.play(self.dialog.prompts(node.prompts), interruptible=False)
        return _Finish(CallOutcome.SELF_SERVICE)

    # -- outside the consultants' hours: a call-back request

    async def _callback(self) -> _Step:
        result = await offer_callback(
            self.dialog,
            self.menu.callback,
            self.menu.messages,
            self.journal,
            topic=self.topic or self.menu.default_topic,
            callerid=self.channel.env.callerid,
            region=self.region,
            can_go_back=bool(self.history),
            uniqueid=self.uniqueid,
            # A caller who has pressed nothing hears the offer once, not three times.
            once=self.dialog.keys_pressed == 0,
        )
        if result is CallbackResult.BACK:
            return _Resume()
        if result is CallbackResult.REQUESTED:
            return _Finish(CallOutcome.CALLBACK_REQUESTED)
        if result is CallbackResult.NO_ANSWER:
            return _Finish(CallOutcome.NO_INPUT)
        return _Finish(CallOutcome.CALLBACK_DECLINED)


async def run_ivr(
    channel: CallChannel,
    menu: Menu,
    hours: OpeningHours,
    journal: CallJournal,
    *,
    sounds_dir: str,
    now: Clock,
    region: str = "PL",
    speech: SpeechListener | None = None,
    speech_languages: frozenset[str] = frozenset(),
) -> IvrResult:
    """Run the 19524 menu on ``channel`` until the caller is to be queued, is served, or hangs up.

    - ``menu``: validated at service start by :func:`ivr.menu.load_menu` against the prompt catalog, which
      is therefore not needed here.
    - ``hours``: when consultants answer; outside them a consultant choice becomes a call-back offer.
    - ``journal``: records the call, gives the caller's recent topic, stores call-back requests.
    - ``sounds_dir``: the prompts' folder as Asterisk sees it; files are :func:`ivr.prompts.prompt_file`.
    - ``now``: the clock (aware datetimes), injectable for tests.
    - ``region``: how phone numbers without a country code are read (settings ``default_region``).
    - ``speech``: hears spoken answers (None: the menu is keys only); ``speech_languages``: the callers'
      languages its model understands (settings ``speech_languages``).

    Sets the channel variables of the module docstring and calls ``journal.finish`` exactly once. A hang-up
    is not an error: it ends as ``hung_up_in_menu`` (or ``self_service`` after a topic's information).
    Other exceptions propagate to the AGI server, and the dialplan queues the caller itself.
    """
    call = _Call(
        channel,
        menu,
        hours,
        journal,
        sounds_dir=sounds_dir,
        now=now,
        region=region,
        speech=speech,
        speech_languages=speech_languages,
    )
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
        if result.outcome is CallOutcome.QUEUED:
            result = replace(result, outcome=CallOutcome.HUNG_UP_IN_MENU, queue=None)
    await journal.finish(result.outcome, result.queue)
    return result
