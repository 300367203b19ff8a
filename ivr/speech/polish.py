"""Polish phrases for spoken answers: inflected forms for the grammar, lemmas for the intent matcher.

The menu data names each phrase once, in its base form ("zasiłek", "rozmowa z konsultantem"); a caller says
"w sprawie zasiłku", "z zasiłkiem", "chodzi o rozmowę z konsultantem". :func:`inflected_forms` generates a
phrase's forms with Morfeusz 2 (SGJP dictionary, built into the library): the run of words in the
nominative that opens it (a noun and what agrees with it) takes every case in both numbers, the rest (from
a preposition, a second noun or a word in another case on) stays as written ("zasiłek dla bezrobotnych" →
"zasiłku dla bezrobotnych", "zasiłkami dla bezrobotnych"…); a phrase with a verb is left as it is.
A word Morfeusz does not know ("eures", or a phrase in another language) is left as it is.

:func:`lemmas` turns recognised text into the lemmas of each word, so that any form of a phrase matches
it word by word (:func:`phrase_matches`, :func:`best_intent`), whether or not the grammar had that form.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# The cases a caller's answer may put a phrase in (the vocative is not an answer).
CASES = ("nom", "gen", "dat", "acc", "inst", "loc")
NUMBERS = ("sg", "pl")
# Parts of speech that decline with the phrase's head: nouns, adjectives, participles, gerunds.
_DECLINING = ("subst", "adj", "pact", "ppas", "ger")
_AGREEING = ("adj", "pact", "ppas")
# Verb forms: a phrase with one is a clause, left as written.
_VERBS = frozenset({"fin", "praet", "impt", "inf", "bedzie", "imps", "pred", "winien"})
# Forms the grammar leaves out: archaic and rare ones.
_SKIPPED_LABELS = frozenset({"daw.", "rzad.", "przest."})
MAX_FORMS = 64  # of one phrase: a phrase of several declining words stays a small part of the grammar


class _Morfeusz:
    """One Morfeusz instance (analysis and generation) for the process; built on first use (~0.1 s)."""

    _lock = threading.Lock()
    _instance: Any = None

    @classmethod
    def get(cls) -> Any:
        with cls._lock:
            if cls._instance is None:
                import morfeusz2  # type: ignore[import-untyped]

                cls._instance = morfeusz2.Morfeusz(expand_tags=False)
            return cls._instance


@dataclass(frozen=True)
class _Reading:
    """One interpretation of a word: its lemma (with Morfeusz's homonym mark, as generation takes it), part
    of speech, numbers, cases and genders (a tag's dotted alternatives), and whether it is negated (a
    gerund's "nie-")."""

    lemma: str
    pos: str
    numbers: frozenset[str]
    cases: frozenset[str]
    genders: frozenset[str]
    negated: bool


def _reading(lemma: str, tag: str) -> _Reading:
    parts = tag.split(":")

    def field(index: int) -> frozenset[str]:
        return frozenset(parts[index].split(".")) if len(parts) > index else frozenset()

    return _Reading(lemma, parts[0], field(1), field(2), field(3), "neg" in parts[4:])


@lru_cache(maxsize=4096)
def _readings(word: str) -> tuple[_Reading, ...]:
    return tuple(
        _reading(lemma, tag)
        for _start, _end, (_form, lemma, tag, _names, _labels) in _Morfeusz.get().analyse(word)
        if tag != "ign"
    )


@lru_cache(maxsize=1024)
def _generated(lemma: str) -> tuple[tuple[str, _Reading], ...]:
    return tuple(
        (form.lower(), _reading(lemma, tag))
        for form, _lemma, tag, _names, labels in _Morfeusz.get().generate(lemma)
        if not _SKIPPED_LABELS.intersection(labels)
    )


def _declining_reading(word: str, *, nouns: bool) -> _Reading | None:
    """The word's reading as part of a phrase in its base form: in the nominative, a noun first (when
    ``nouns``), else an adjective or participle; None when it does not decline with the phrase."""
    candidates = [r for r in _readings(word) if r.pos in _DECLINING and "nom" in r.cases]
    if nouns:
        chosen = [r for r in candidates if r.pos == "subst"] or [r for r in candidates if r.pos != "ger"]
    else:
        chosen = [r for r in candidates if r.pos in _AGREEING]
    return chosen[0] if chosen else None


def _forms(reading: _Reading, number: str, case: str, gender: frozenset[str]) -> list[str]:
    found: list[str] = []
    for form, generated in _generated(reading.lemma):
        if generated.pos != reading.pos or number not in generated.numbers or case not in generated.cases:
            continue
        if reading.pos != "subst" and gender and not gender & generated.genders:
            continue  # an adjective agrees with its noun's gender
        if generated.negated != reading.negated:
            continue
        if form not in found:
            found.append(form)
    return found


def inflected_forms(phrase: str) -> tuple[str, ...]:
    """The phrase (lower case, single spaces) and its inflected forms, the phrase first."""
    words = phrase.lower().split()
    base = " ".join(words)
    if any(r.pos in _VERBS for word in words for r in _readings(word)):
        return (base,)  # a clause ("kto dostanie zasiłek"): its words do not decline together
    declining: dict[int, _Reading] = {}
    head_found = False
    for index, word in enumerate(words):
        if any(r.pos == "prep" for r in _readings(word)):
            break  # what follows a preposition is governed by it: it stays as written
        # Before the noun, what agrees with it; after it, only adjectives: a second noun depends on the
        # first ("godziny otwarcia") and stays as written, like a word in another case ("oferty pracy").
        reading = _declining_reading(word, nouns=not head_found)
        if reading is None:
            break
        declining[index] = reading
        head_found = head_found or reading.pos == "subst"
    if not any(r.pos == "subst" for r in declining.values()):
        return (base,)
    head = next((r for r in declining.values() if r.pos == "subst"), None)
    gender = head.genders if head is not None else frozenset()
    forms = [base]
    for number, case in itertools.product(NUMBERS, CASES):
        options: list[list[str]] = []
        for index, word in enumerate(words):
            reading = declining.get(index)
            if reading is None:
                options.append([word])
                continue
            options.append(_forms(reading, number, case, gender))
        for chosen in itertools.product(*options):
            form = " ".join(chosen)
            if form not in forms:
                forms.append(form)
            if len(forms) >= MAX_FORMS:
                return tuple(forms)
    return tuple(forms)


@lru_cache(maxsize=8192)
def word_lemmas(word: str) -> frozenset[str]:
    """The word itself and every lemma Morfeusz gives it (without homonym marks), lower case."""
    word = word.lower()
    return frozenset({word, *(r.lemma.split(":", 1)[0].lower() for r in _readings(word))})


def lemmas(text: str) -> tuple[frozenset[str], ...]:
    """Each word of ``text`` as its set of lemmas."""
    return tuple(word_lemmas(word) for word in text.lower().split())


def phrase_matches(phrase: Sequence[frozenset[str]], text: Sequence[frozenset[str]]) -> bool:
    """Whether the text is the phrase, word by word, each word some form of the phrase word's lemma."""
    return bool(phrase) and len(phrase) == len(text) and all(p & t for p, t in zip(phrase, text, strict=True))


def best_intent(candidates: Iterable[tuple[Sequence[frozenset[str]], str]], text: str) -> str | None:
    """The intent of the phrase that ``text`` is a form of (lemma by lemma); None when it is none, or when
    it is a form of phrases of different intents."""
    heard = lemmas(text)
    intents = {intent for phrase, intent in candidates if phrase_matches(phrase, heard)}
    return intents.pop() if len(intents) == 1 else None
