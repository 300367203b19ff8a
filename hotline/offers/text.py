"""Polish words for the search: lemmas from Morfeusz 2 (SGJP dictionary), folded to plain ASCII.

The index holds, for every word of a field, its folded surface form and every lemma Morfeusz gives for it
("spawacza" → "spawacza spawacz"); a query word becomes the same set, so any inflected form finds any other.
Folding (lower case, no diacritics, ł → l) makes "zlobek" and "żłobek" the same term. A query word that
Morfeusz does not know is tried with the Polish letters its plain letters may stand for ("pielegniarki" →
"pielęgniarki"), so inflected forms typed without diacritics are found too.

Every term is made of ``[a-z0-9]`` only: terms can be put into an FTS5 or tsquery expression without any
escaping problem (they are still quoted there).
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hotline.text import fold

WORD = re.compile(r"\w+", re.UNICODE)
# Parts of speech that never narrow a search: prepositions, conjunctions, particles, punctuation.
_FUNCTION_TAGS = ("prep", "conj", "comp", "qub", "interp", "brev")
# Words consultants type that say nothing about the offer ("praca jako spawacz").
STOP_WORDS = frozenset({"praca", "prace", "pracy", "oferta", "oferty", "szukam", "szuka", "jako", "etat"})
# Polish letters that a plain letter may stand for when typed without diacritics.
_DIACRITICS = {"a": "ą", "c": "ć", "e": "ę", "l": "ł", "n": "ń", "o": "ó", "s": "ś", "z": "żź"}
# Beyond this many candidate spellings a word is left as typed (it would cost too many dictionary look-ups).
MAX_SPELLINGS = 256
MAX_WORD_LENGTH = 40


def _clean_term(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text))


def words(text: str) -> list[str]:
    return [w for w in WORD.findall(text) if not w.isdigit() or len(w) <= 12]


@dataclass(frozen=True)
class Analysis:
    lemmas: tuple[str, ...]
    known: bool
    function_word: bool


class _Morfeusz:
    """One Morfeusz instance per process (it holds the dictionary, ~60 MB); analyses are cached."""

    _lock = threading.Lock()
    _instance: Any = None

    @classmethod
    def get(cls) -> Any:
        with cls._lock:
            if cls._instance is None:
                import morfeusz2  # type: ignore[import-untyped]

                cls._instance = morfeusz2.Morfeusz(generate=False, expand_tags=False)
            return cls._instance


@lru_cache(maxsize=500_000)
def analyse(word: str) -> Analysis:
    """Lemmas of one word, folded; an unknown word is its own lemma."""
    if len(word) > MAX_WORD_LENGTH:
        word = word[:MAX_WORD_LENGTH]
    results = _Morfeusz.get().analyse(word)
    lemmas: list[str] = []
    known = False
    function_word = bool(results)
    for _start, _end, (_form, lemma, tag, _names, _labels) in results:
        if tag == "ign":
            function_word = False
            continue
        known = True
        if not tag.startswith(_FUNCTION_TAGS):
            function_word = False
        term = _clean_term(lemma.split(":", 1)[0])
        if term and term not in lemmas:
            lemmas.append(term)
    return Analysis(tuple(lemmas), known, function_word and known)


def _spellings(word: str) -> Iterator[str]:
    options = [c + _DIACRITICS.get(c, "") for c in word]
    count = 1
    for choice in options:
        count *= len(choice)
    if count > MAX_SPELLINGS:
        return
    for letters in itertools.product(*options):
        yield "".join(letters)


@lru_cache(maxsize=50_000)
def query_lemmas(word: str) -> tuple[str, ...]:
    """Lemmas of a typed word; a word unknown as typed is tried with the diacritics it may have lost."""
    word = word.lower()[:MAX_WORD_LENGTH]
    analysis = analyse(word)
    if analysis.known or not word.isalpha() or not word.isascii():
        return analysis.lemmas
    found: list[str] = []
    for spelling in _spellings(word):
        if spelling == word:
            continue
        candidate = analyse(spelling)
        if candidate.known:
            found.extend(lemma for lemma in candidate.lemmas if lemma not in found)
    return tuple(found) or analysis.lemmas


@lru_cache(maxsize=200_000)
def index_terms(text: str) -> str:
    """The terms of a field for the index: each word's folded form and lemmas, space-separated, in order."""
    terms: list[str] = []
    seen: set[str] = set()
    for word in words(text):
        for term in (_clean_term(word), *analyse(word).lemmas):
            if term and term not in seen:
                seen.add(term)
                terms.append(term)
    return " ".join(terms)


@dataclass(frozen=True)
class QueryWord:
    """One typed word: the terms any of which may match, and whether it may still be growing (prefix)."""

    typed: str
    terms: tuple[str, ...]
    prefix: str | None


def query_words(text: str, *, typing: bool = True) -> list[QueryWord]:
    """The words of a query, each with the terms that stand for it.

    With ``typing``, the last word (when the text does not end in a space) also matches as a prefix, so
    results follow the consultant's typing ("spaw" finds "spawacz").
    """
    raw = words(text)
    result: list[QueryWord] = []
    for position, word in enumerate(raw):
        folded = _clean_term(word)
        if not folded:
            continue
        last = position == len(raw) - 1 and typing and not text[-1:].isspace()
        analysis = analyse(word.lower()[:MAX_WORD_LENGTH])
        if folded in STOP_WORDS or analysis.function_word or len(folded) == 1:
            continue
        terms = [folded]
        for lemma in query_lemmas(word):
            if lemma not in terms:
                terms.append(lemma)
        prefix = folded if last and len(folded) >= 2 else None
        result.append(QueryWord(typed=word, terms=tuple(terms), prefix=prefix))
    return result


def matched(query: Iterable[QueryWord], field_terms: str) -> bool:
    """Whether every query word matches one of the terms of a field (as the index would)."""
    terms = field_terms.split()
    term_set = set(terms)
    for word in query:
        if term_set.intersection(word.terms):
            continue
        if word.prefix and any(term.startswith(word.prefix) for term in terms):
            continue
        return False
    return True


def matched_any(word: QueryWord, field_terms: str) -> bool:
    return matched((word,), field_terms)
