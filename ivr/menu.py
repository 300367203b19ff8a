"""The 19524 menu as data: frozen dataclasses loaded from ``menu.yaml`` and validated at service start.

:func:`load_menu` refuses a menu with unknown targets, duplicate keys, unreachable nodes, prompt ids missing
from the prompt catalog, unknown queue names or a malformed shape, each as a :class:`MenuError` naming the
node. :func:`enumerate_paths` lists every way through the menu, so tests can be generated from the file.
``menu.yaml`` documents the node kinds; :mod:`ivr.session` runs them on a call.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from hotline.datafiles import DuplicateKeyError, load_yaml
from ivr.prompts import PromptCatalog
from ivr.speech import polish

MENU_VERSION = 1

# Option targets that are not nodes.
REPEAT = "repeat"
BACK = "back"
RESERVED_IDS = frozenset({REPEAT, BACK})
OPTION_KEYS = "0123456789"  # `*` (repeat) and `#` (back) are reserved in every menu

NODE_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class MenuError(Exception):
    """The menu file is invalid. ``node`` names the offending node when there is one."""

    def __init__(self, message: str, node: str | None = None, *, file: Path | None = None) -> None:
        self.node = node
        self.detail = message
        self.file = file
        text = f"node {node!r}: {message}" if node is not None else message
        super().__init__(f"{file}: {text}" if file is not None else text)


@dataclass(frozen=True, kw_only=True)
class LanguageNode:
    id: str
    intro: tuple[str, ...]  # in the default language, on arrival; again in a newly chosen language
    prompts: tuple[str, ...]  # once per offered language, each in its own language
    languages: Mapping[str, str]  # key → language
    default: str  # on timeout, and after max_tries wrong keys
    repeat_intro: bool
    timeout_ms: int
    max_tries: int
    next: str


@dataclass(frozen=True, kw_only=True)
class ReturningCallerNode:
    id: str
    prompts: tuple[str, ...]  # before the topic's name
    after_topic: tuple[str, ...]
    key: str  # continues with the recent topic
    timeout_ms: int
    next: str


# Caller languages whose phrases are inflected for the grammar and lemmatised for the intent matcher.
INFLECTED_LANGUAGES = frozenset({"pl"})


def _with_inflected_forms(phrases: Mapping[str, str]) -> dict[str, str]:
    """The data's phrases (phrase → intent) and their inflected forms; a form that is a phrase of the data,
    or a form of phrases of different intents, is left to the data (or out)."""
    forms: dict[str, set[str]] = {}
    for phrase, intent in phrases.items():
        for form in polish.inflected_forms(phrase)[1:]:
            forms.setdefault(form, set()).add(intent)
    extended = dict(phrases)
    for form, meant in forms.items():
        if form not in extended and len(meant) == 1:
            extended[form] = next(iter(meant))
    return extended


def normalise_phrase(text: str) -> str:
    """A phrase as it is compared with what the recogniser heard: lower case, single spaces."""
    return " ".join(text.lower().split())


@dataclass(frozen=True, kw_only=True)
class SpeechQuestion:
    """A menu node's spoken question: "say in a few words what you are calling about, or press a key".

    ``intents`` map, per caller language, each phrase (normalised) to an intent: a key of the node's options
    (the answer goes where the key goes) or a node of its own (a virtual advisor's answer, which has no key).
    For a language with a morphology (Polish: :mod:`ivr.speech.polish`) they also hold the phrases'
    inflected forms, generated when the menu is loaded, and ``lemmatised`` the phrases of the data as lemmas,
    so that an answer in any form of a phrase means its intent.
    """

    # Prompt id of the question; None: the node's own intro and prompts ask it (an advisor's answer, which
    # ends "press 0 or say 'konsultant'").
    question: str | None
    retry: str | None  # prompt id: the one re-prompt after silence or an answer not understood; None: none
    intents: Mapping[str, Mapping[str, str]]  # language → phrase or form → intent (a key, or a node id)
    min_confidence: float
    # language → (the data's phrase as lemmas, its intent), for languages with a morphology
    lemmatised: Mapping[str, tuple[tuple[tuple[frozenset[str], ...], str], ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def phrases(self, language: str) -> tuple[str, ...]:
        return tuple(self.intents.get(language, {}))

    def intent_for(self, language: str, text: str) -> str | None:
        """The intent an answer means (a key, or a node id), or None: a phrase or one of its forms, else
        (with a morphology) any form of a phrase, word by word, that means one intent only."""
        said = normalise_phrase(text)
        intent = self.intents.get(language, {}).get(said)
        if intent is None and language in self.lemmatised:
            intent = polish.best_intent(self.lemmatised[language], said)
        return intent

    def node_intents(self) -> frozenset[str]:
        """The intents that are nodes, not keys."""
        return frozenset(i for p in self.intents.values() for i in p.values() if i not in OPTION_KEYS)


@dataclass(frozen=True, kw_only=True)
class MenuNode:
    id: str
    intro: tuple[str, ...]
    prompts: tuple[str, ...]
    options: Mapping[str, str]  # key → node id, REPEAT or BACK
    topic: str | None
    timeout_ms: int
    max_tries: int
    fallback: str  # a queue node
    speech: SpeechQuestion | None = None


@dataclass(frozen=True, kw_only=True)
class QueueNode:
    id: str
    queue: str
    prompts: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class EndNode:
    id: str
    prompts: tuple[str, ...]


Node = LanguageNode | ReturningCallerNode | MenuNode | QueueNode | EndNode


@dataclass(frozen=True)
class Topic:
    id: str
    name: str  # prompt id of the topic's spoken name
    node: str  # where a returning caller continues


@dataclass(frozen=True)
class Messages:
    invalid_key: str
    no_input: str


@dataclass(frozen=True, kw_only=True)
class CallbackFlow:
    """Prompt ids and limits of the call-back request offered outside the consultants' hours."""

    closed: str
    offer: str
    caller_number: str
    caller_number_keys: str
    enter_number: str
    number_invalid: str
    readback: str
    confirm: str
    consent: str
    registered: str
    not_registered: str
    goodbye: str
    timeout_ms: int
    entry_timeout_ms: int
    max_digits: int
    max_tries: int


@dataclass(frozen=True)
class Menu:
    version: int
    root: str
    nodes: Mapping[str, Node]
    topics: Mapping[str, Topic]
    default_topic: str
    messages: Messages
    callback: CallbackFlow

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    @property
    def queues(self) -> frozenset[str]:
        return frozenset(n.queue for n in self.nodes.values() if isinstance(n, QueueNode))


# --- Loading ------------------------------------------------------------------------------------------------

_COMMON_FIELDS = {"kind"}
_NODE_FIELDS: Mapping[str, frozenset[str]] = {
    "language": frozenset(
        {"intro", "prompts", "languages", "default", "repeat_intro", "timeout_ms", "max_tries", "next"}
    ),
    "returning_caller": frozenset({"prompts", "after_topic", "key", "timeout_ms", "next"}),
    "menu": frozenset(
        {"intro", "prompts", "options", "topic", "timeout_ms", "max_tries", "fallback", "speech"}
    ),
    "queue": frozenset({"queue", "prompts"}),
    "end": frozenset({"prompts"}),
}
_TOP_FIELDS = frozenset(
    {"version", "root", "defaults", "messages", "default_topic", "topics", "callback", "nodes"}
)
_CALLBACK_PROMPTS = (
    "closed", "offer", "caller_number", "caller_number_keys", "enter_number", "number_invalid", "readback",
    "confirm", "consent", "registered", "not_registered", "goodbye",
)  # fmt: skip
_CALLBACK_NUMBERS = ("timeout_ms", "entry_timeout_ms", "max_digits", "max_tries")


@dataclass(frozen=True)
class _Defaults:
    timeout_ms: int
    max_tries: int
    fallback: str


class _Loader:
    """Turns parsed YAML into a :class:`Menu`, checking everything it reads against the catalog."""

    def __init__(self, catalog: PromptCatalog, queues: Collection[str]) -> None:
        self.catalog = catalog
        self.queues = frozenset(queues)

    # -- small typed readers; ``node`` names the node in errors (None for top-level sections)

    def _mapping(self, value: Any, what: str, node: str | None = None) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise MenuError(f"{what} must be a mapping, not {type(value).__name__}", node)
        return value

    def _string(self, value: Any, what: str, node: str | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise MenuError(f"{what} must be a non-empty string, not {value!r}", node)
        return value.strip()

    def _int(self, value: Any, what: str, node: str | None = None, *, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise MenuError(f"{what} must be a whole number of at least {minimum}, not {value!r}", node)
        return value

    def _prompt(self, value: Any, what: str, node: str | None = None) -> str:
        prompt_id = self._string(value, what, node)
        if prompt_id not in self.catalog:
            raise MenuError(f"prompt {prompt_id!r} ({what}) is not in the prompt catalog", node)
        return prompt_id

    def _prompts(self, value: Any, what: str, node: str | None, *, required: bool) -> tuple[str, ...]:
        if value is None and not required:
            return ()
        if not isinstance(value, list) or (required and not value):
            raise MenuError(f"{what} must be a {'non-empty ' if required else ''}list of prompt ids", node)
        return tuple(self._prompt(item, what, node) for item in value)

    def _key(self, value: Any, what: str, node: str) -> str:
        key = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if key in ("*", "#"):
            raise MenuError(f"key {key!r} in {what} is reserved ('*' repeats, '#' goes back)", node)
        if not isinstance(key, str) or len(key) != 1 or key not in OPTION_KEYS:
            raise MenuError(f"{what}: {value!r} is not a key 0-9", node)
        return key

    def _keyed(self, value: Any, what: str, node: str) -> dict[str, Any]:
        raw = self._mapping(value, what, node)
        keyed: dict[str, Any] = {}
        for raw_key, target in raw.items():
            key = self._key(raw_key, what, node)
            if key in keyed:  # e.g. 1 and "1"
                raise MenuError(f"key {key!r} appears twice in {what}", node)
            keyed[key] = target
        if not keyed:
            raise MenuError(f"{what} must offer at least one key", node)
        return keyed

    # -- the file

    def load(self, data: Any) -> Menu:
        top = self._mapping(data, "the menu file")
        unknown = set(top) - _TOP_FIELDS
        if unknown:
            raise MenuError(f"unknown top-level field(s) {sorted(map(str, unknown))}")
        for required in ("version", "root", "nodes", "messages", "default_topic", "callback"):
            if required not in top:
                raise MenuError(f"the menu file has no {required!r}")
        if top["version"] != MENU_VERSION:
            raise MenuError(f"unsupported menu version {top['version']!r} (expected {MENU_VERSION})")

        defaults_raw = self._mapping(top.get("defaults") or {}, "defaults")
        unknown = set(defaults_raw) - {"timeout_ms", "max_tries", "fallback"}
        if unknown:
            raise MenuError(f"defaults: unknown field(s) {sorted(map(str, unknown))}")
        defaults = _Defaults(
            timeout_ms=self._int(defaults_raw.get("timeout_ms", 5000), "defaults.timeout_ms"),
            max_tries=self._int(defaults_raw.get("max_tries", 3), "defaults.max_tries"),
            fallback=self._string(defaults_raw.get("fallback", "to_consultant"), "defaults.fallback"),
        )

        messages_raw = self._mapping(top["messages"], "messages")
        if set(messages_raw) != {"invalid_key", "no_input"}:
            raise MenuError("messages must name exactly the prompts 'invalid_key' and 'no_input'")
        messages = Messages(
            invalid_key=self._prompt(messages_raw["invalid_key"], "messages.invalid_key"),
            no_input=self._prompt(messages_raw["no_input"], "messages.no_input"),
        )
        callback = self._callback(top["callback"], defaults)

        nodes_raw = self._mapping(top["nodes"], "nodes")
        if not nodes_raw:
            raise MenuError("the menu has no nodes")
        nodes: dict[str, Node] = {}
        for node_id, raw in nodes_raw.items():
            if not isinstance(node_id, str) or not NODE_ID.fullmatch(node_id):
                raise MenuError(f"node id {node_id!r} must be lower case letters, digits and underscores")
            if node_id in RESERVED_IDS:
                raise MenuError(f"{node_id!r} is reserved for options and cannot name a node", node_id)
            nodes[node_id] = self._node(node_id, raw, defaults)

        topics = self._topics(top.get("topics") or {})
        default_topic = self._string(top["default_topic"], "default_topic")
        if default_topic not in topics:
            raise MenuError(f"default_topic {default_topic!r} is not one of the topics {sorted(topics)}")
        root = self._string(top["root"], "root")
        menu = Menu(
            version=MENU_VERSION,
            root=root,
            nodes=MappingProxyType(nodes),
            topics=MappingProxyType(topics),
            default_topic=default_topic,
            messages=messages,
            callback=callback,
        )
        self._check_references(menu)
        self._check_reachable(menu)
        return menu

    def _callback(self, value: Any, defaults: _Defaults) -> CallbackFlow:
        raw = self._mapping(value, "callback")
        unknown = set(raw) - set(_CALLBACK_PROMPTS) - set(_CALLBACK_NUMBERS)
        if unknown:
            raise MenuError(f"callback: unknown field(s) {sorted(map(str, unknown))}")
        prompts: dict[str, str] = {}
        for name in _CALLBACK_PROMPTS:
            if name not in raw:
                raise MenuError(f"callback: the prompt {name!r} is not given")
            prompts[name] = self._prompt(raw[name], f"callback.{name}")
        return CallbackFlow(
            **prompts,
            timeout_ms=self._int(raw.get("timeout_ms", defaults.timeout_ms), "callback.timeout_ms"),
            entry_timeout_ms=self._int(raw.get("entry_timeout_ms", 10000), "callback.entry_timeout_ms"),
            max_digits=self._int(raw.get("max_digits", 15), "callback.max_digits", minimum=9),
            max_tries=self._int(raw.get("max_tries", defaults.max_tries), "callback.max_tries"),
        )

    def _topics(self, value: Any) -> dict[str, Topic]:
        raw = self._mapping(value, "topics")
        topics: dict[str, Topic] = {}
        for topic_id, item in raw.items():
            if not isinstance(topic_id, str) or not NODE_ID.fullmatch(topic_id):
                raise MenuError(f"topic id {topic_id!r} must be lower case letters, digits and underscores")
            fields = self._mapping(item, f"topics.{topic_id}")
            if set(fields) != {"name", "node"}:
                raise MenuError(f"topics.{topic_id} must give exactly 'name' (a prompt) and 'node'")
            topics[topic_id] = Topic(
                id=topic_id,
                name=self._prompt(fields["name"], f"topics.{topic_id}.name"),
                node=self._string(fields["node"], f"topics.{topic_id}.node"),
            )
        return topics

    def _node(self, node_id: str, value: Any, defaults: _Defaults) -> Node:
        raw = self._mapping(value, "a node", node_id)
        kind = raw.get("kind")
        if not isinstance(kind, str) or kind not in _NODE_FIELDS:
            raise MenuError(f"kind must be one of {sorted(_NODE_FIELDS)}, not {kind!r}", node_id)
        unknown = set(raw) - _COMMON_FIELDS - _NODE_FIELDS[kind]
        if unknown:
            allowed = ", ".join(sorted(_NODE_FIELDS[kind]))
            raise MenuError(
                f"unknown field(s) {sorted(map(str, unknown))} for a {kind} node ({allowed})", node_id
            )

        def timeout() -> int:
            return self._int(raw.get("timeout_ms", defaults.timeout_ms), "timeout_ms", node_id)

        def max_tries() -> int:
            return self._int(raw.get("max_tries", defaults.max_tries), "max_tries", node_id)

        def required(name: str) -> Any:
            if name not in raw:
                raise MenuError(f"a {kind} node needs {name!r}", node_id)
            return raw[name]

        if kind == "language":
            languages: dict[str, str] = {}
            for key, language in self._keyed(required("languages"), "languages", node_id).items():
                if language not in self.catalog.languages:
                    raise MenuError(
                        f"language {language!r} (key {key!r}) is not one of the prompt languages "
                        f"{list(self.catalog.languages)}",
                        node_id,
                    )
                if language in languages.values():
                    raise MenuError(f"language {language!r} is offered on two keys", node_id)
                languages[key] = language
            default = required("default")
            if default not in languages.values():
                raise MenuError(f"default language {default!r} is not one of the offered languages", node_id)
            repeat_intro = raw.get("repeat_intro", False)
            if not isinstance(repeat_intro, bool):
                raise MenuError(f"repeat_intro must be true or false, not {repeat_intro!r}", node_id)
            return LanguageNode(
                id=node_id,
                intro=self._prompts(raw.get("intro"), "intro", node_id, required=False),
                prompts=self._prompts(required("prompts"), "prompts", node_id, required=True),
                languages=MappingProxyType(languages),
                default=default,
                repeat_intro=repeat_intro,
                timeout_ms=timeout(),
                max_tries=max_tries(),
                next=self._string(required("next"), "next", node_id),
            )
        if kind == "returning_caller":
            return ReturningCallerNode(
                id=node_id,
                prompts=self._prompts(required("prompts"), "prompts", node_id, required=True),
                after_topic=self._prompts(raw.get("after_topic"), "after_topic", node_id, required=False),
                key=self._key(required("key"), "key", node_id),
                timeout_ms=timeout(),
                next=self._string(required("next"), "next", node_id),
            )
        if kind == "menu":
            options = {
                key: self._string(target, f"option {key!r}", node_id)
                for key, target in self._keyed(required("options"), "options", node_id).items()
            }
            topic = raw.get("topic")
            speech = None if raw.get("speech") is None else self._speech(raw["speech"], options, node_id)
            return MenuNode(
                id=node_id,
                intro=self._prompts(raw.get("intro"), "intro", node_id, required=False),
                prompts=self._prompts(required("prompts"), "prompts", node_id, required=True),
                options=MappingProxyType(options),
                topic=None if topic is None else self._string(topic, "topic", node_id),
                timeout_ms=timeout(),
                max_tries=max_tries(),
                fallback=self._string(raw.get("fallback", defaults.fallback), "fallback", node_id),
                speech=speech,
            )
        if kind == "queue":
            queue = self._string(required("queue"), "queue", node_id)
            if queue not in self.queues:
                raise MenuError(f"unknown queue {queue!r} (known: {', '.join(sorted(self.queues))})", node_id)
            return QueueNode(
                id=node_id,
                queue=queue,
                prompts=self._prompts(raw.get("prompts"), "prompts", node_id, required=False),
            )
        return EndNode(
            id=node_id, prompts=self._prompts(raw.get("prompts"), "prompts", node_id, required=False)
        )

    def _speech(self, value: Any, options: Mapping[str, str], node_id: str) -> SpeechQuestion:
        raw = self._mapping(value, "speech", node_id)
        unknown = set(raw) - {"question", "retry", "intents", "min_confidence"}
        if unknown:
            raise MenuError(f"speech: unknown field(s) {sorted(map(str, unknown))}", node_id)
        if "intents" not in raw:
            raise MenuError("speech needs 'intents'", node_id)
        confidence = raw.get("min_confidence", 0.6)
        number = isinstance(confidence, int | float) and not isinstance(confidence, bool)
        if not number or not 0 <= confidence <= 1:
            message = f"speech.min_confidence must be a number from 0 to 1, not {confidence!r}"
            raise MenuError(message, node_id)
        intents: dict[str, dict[str, str]] = {}
        raw_intents = self._mapping(raw["intents"], "speech.intents", node_id)
        if not raw_intents:
            raise MenuError("speech.intents must name at least one intent", node_id)
        for raw_key, per_language in raw_intents.items():
            key = str(raw_key) if isinstance(raw_key, int) and not isinstance(raw_key, bool) else raw_key
            if isinstance(key, str) and NODE_ID.fullmatch(key) and key not in RESERVED_IDS:
                pass  # a node of its own: checked with the other references
            else:
                key = self._key(raw_key, "speech.intents", node_id)
                target = options.get(key)
                if target is None:
                    raise MenuError(f"speech.intents: key {key!r} is not one of the options", node_id)
                if target in RESERVED_IDS:
                    message = f"speech.intents: key {key!r} leads to {target!r}, not to a node"
                    raise MenuError(message, node_id)
            languages = self._mapping(per_language, f"speech.intents.{key}", node_id)
            for language, phrases in languages.items():
                what = f"speech.intents.{key}.{language}"
                if language not in self.catalog.languages:
                    known_languages = list(self.catalog.languages)
                    message = f"{what}: {language!r} is not one of the prompt languages {known_languages}"
                    raise MenuError(message, node_id)
                if not isinstance(phrases, list) or not phrases:
                    raise MenuError(f"{what} must be a non-empty list of phrases", node_id)
                for phrase in phrases:
                    said = normalise_phrase(self._string(phrase, what, node_id))
                    known = intents.setdefault(language, {})
                    if said in known and known[said] != key:
                        raise MenuError(
                            f"{what}: {said!r} already means {known[said]!r} in {language!r}", node_id
                        )
                    known[said] = key
        lemmatised: dict[str, tuple[tuple[tuple[frozenset[str], ...], str], ...]] = {}
        for language in INFLECTED_LANGUAGES & intents.keys():
            data_phrases = intents[language]
            intents[language] = _with_inflected_forms(data_phrases)
            lemmatised[language] = tuple((polish.lemmas(p), i) for p, i in data_phrases.items())
        return SpeechQuestion(
            question=None
            if raw.get("question") is None
            else self._prompt(raw["question"], "speech.question", node_id),
            retry=None if raw.get("retry") is None else self._prompt(raw["retry"], "speech.retry", node_id),
            intents=MappingProxyType({lang: MappingProxyType(p) for lang, p in intents.items()}),
            min_confidence=float(confidence),
            lemmatised=MappingProxyType(lemmatised),
        )

    def _check_references(self, menu: Menu) -> None:
        nodes = menu.nodes

        def target(node_id: str, what: str, ref: str) -> None:
            if ref not in nodes:
                raise MenuError(f"{what} goes to unknown node {ref!r}", node_id)

        if menu.root not in nodes:
            raise MenuError(f"the root {menu.root!r} is not a node")
        for topic in menu.topics.values():
            if topic.node not in nodes:
                raise MenuError(f"topic {topic.id!r} continues at unknown node {topic.node!r}")
            if not isinstance(nodes[topic.node], MenuNode | QueueNode):
                raise MenuError(f"topic {topic.id!r} must continue at a menu or queue node", topic.node)
        for node in nodes.values():
            if isinstance(node, LanguageNode | ReturningCallerNode):
                target(node.id, "next", node.next)
            if isinstance(node, ReturningCallerNode):
                following = nodes[node.next]
                if isinstance(following, MenuNode) and node.key in following.options:
                    # The caller may type ahead for that menu during the offer: the key must mean one thing.
                    raise MenuError(
                        f"key {node.key!r} is also an option of the next menu {node.next!r}", node.id
                    )
            elif isinstance(node, MenuNode):
                for key, ref in node.options.items():
                    if ref not in RESERVED_IDS:
                        target(node.id, f"option {key!r}", ref)
                target(node.id, "fallback", node.fallback)
                if not isinstance(nodes[node.fallback], QueueNode):
                    raise MenuError(f"fallback {node.fallback!r} must be a queue node", node.id)
                if node.speech is not None:
                    for intent in sorted(node.speech.node_intents()):
                        target(node.id, f"speech intent {intent!r}", intent)
                if node.topic is not None and node.topic not in menu.topics:
                    raise MenuError(f"unknown topic {node.topic!r} (topics: {sorted(menu.topics)})", node.id)

    def _check_reachable(self, menu: Menu) -> None:
        seen = {menu.root}
        todo = [menu.root]
        while todo:
            for successor in _successors(menu, menu.nodes[todo.pop()]):
                if successor not in seen:
                    seen.add(successor)
                    todo.append(successor)
        unreachable = [node_id for node_id in menu.nodes if node_id not in seen]
        if unreachable:
            others = f" (nor are {', '.join(unreachable[1:])})" if len(unreachable) > 1 else ""
            raise MenuError(f"not reachable from the root {menu.root!r}{others}", unreachable[0])


def _successors(menu: Menu, node: Node) -> Iterator[str]:
    # A returning caller's jump to a topic does not count: a first-time caller must reach every node.
    if isinstance(node, LanguageNode | ReturningCallerNode):
        yield node.next
    elif isinstance(node, MenuNode):
        yield from (ref for ref in node.options.values() if ref not in RESERVED_IDS)
        if node.speech is not None:
            yield from sorted(node.speech.node_intents())
        yield node.fallback


def menu_from_data(data: Any, catalog: PromptCatalog, queues: Collection[str]) -> Menu:
    """Validate parsed menu YAML (see ``menu.yaml`` for the format)."""
    return _Loader(catalog, queues).load(data)


def load_menu(path: Path, catalog: PromptCatalog, queues: Collection[str]) -> Menu:
    """Load and validate the menu file; ``queues`` are the queue names of ``hotline/queues.yaml``."""
    try:
        data = load_yaml(path)
    except OSError as exc:
        raise MenuError(str(exc), file=path) from exc
    except DuplicateKeyError as exc:
        if exc.path == ("nodes",):
            raise MenuError(f"defined twice (line {exc.line})", exc.key, file=path) from exc
        if len(exc.path) >= 2 and exc.path[0] == "nodes":
            where = ".".join(exc.path[2:]) or "the node"
            message = f"key {exc.key!r} appears twice in {where} (line {exc.line})"
            raise MenuError(message, exc.path[1], file=path) from exc
        where = ".".join(exc.path) or "the top level"
        raise MenuError(f"key {exc.key!r} appears twice in {where} (line {exc.line})", file=path) from exc
    except yaml.YAMLError as exc:
        raise MenuError(f"not valid YAML: {exc}", file=path) from exc
    try:
        return menu_from_data(data, catalog, queues)
    except MenuError as exc:
        raise MenuError(exc.detail, exc.node, file=path) from None


# --- Paths through the menu ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MenuPath:
    """One way through the menu: the keys a first-time caller presses, from the root to a terminal node."""

    keys: tuple[str, ...]
    nodes: tuple[str, ...]  # entered in order, root first, terminal last
    language: str
    topic: str | None  # the call's topic at the end (the default topic when queued without one)
    queue: str | None  # None when the path ends the call (an end node)

    @property
    def terminal(self) -> str:
        return self.nodes[-1]


def enumerate_paths(menu: Menu) -> tuple[MenuPath, ...]:
    """Every path from the root to each queue or end node, in file order, without revisiting a node.

    Returning-caller offers are passed through (a first-time caller), and ``repeat``/``back`` options and
    fallbacks are not followed: each path is the shortest key sequence of one route.
    """
    paths: list[MenuPath] = []
    start_language = next((n.default for n in menu.nodes.values() if isinstance(n, LanguageNode)), "pl")

    def walk(
        node_id: str, keys: tuple[str, ...], nodes: tuple[str, ...], language: str, topic: str | None
    ) -> None:
        node = menu.nodes[node_id]
        nodes = (*nodes, node_id)
        if isinstance(node, QueueNode):
            paths.append(MenuPath(keys, nodes, language, topic or menu.default_topic, node.queue))
        elif isinstance(node, EndNode):
            paths.append(MenuPath(keys, nodes, language, topic, None))
        elif isinstance(node, LanguageNode):
            for key, chosen in node.languages.items():
                if node.next not in nodes:
                    walk(node.next, (*keys, key), nodes, chosen, topic)
        elif isinstance(node, ReturningCallerNode):
            if node.next not in nodes:
                walk(node.next, keys, nodes, language, topic)
        else:
            topic = node.topic or topic
            for key, target in node.options.items():
                if target not in RESERVED_IDS and target not in nodes:
                    walk(target, (*keys, key), nodes, language, topic)

    walk(menu.root, (), (), start_language, None)
    return tuple(paths)
