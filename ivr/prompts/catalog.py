"""The IVR's prompt texts: by id and language, from ``recordings/prompts.yaml`` (settings ``prompts_file``).

:class:`PromptCatalog` is the validated file; the menu is checked against it at start, and
:mod:`ivr.prompts.build` turns it into the WAVs Asterisk plays. Its optional ``budgets`` say how long a
caller may have to listen (:class:`PromptBudgets`, checked by :mod:`ivr.prompts.budget`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hotline.datafiles import read_data_file

PROMPT_ID = re.compile(r"^[a-z][a-z0-9_]*$")
REVIEW = "review"  # a prompt's field beside its languages: its texts await someone's review


class PromptError(Exception):
    """The prompt file is malformed, or a prompt cannot be built."""


def normalize_text(text: str) -> str:
    """The text as it is spoken and hashed: whitespace collapsed (YAML folding leaves no trace)."""
    return " ".join(text.split())


def text_sha256(text: str) -> str:
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class PromptBudgets:
    """The longest a caller listens, in seconds of the built WAVs, in every language (``budgets:``)."""

    prompt_s: float  # any single prompt
    greeting_s: float  # the language node's intro: the greeting with the recording notice
    menu_s: float  # a menu node's intro and prompts; the language node's intro and its choices
    information_s: float  # a menu node with a topic: its intro and prompts...
    consultant_within_s: float  # ...where one of consultant_prompts starts this early
    consultant_prompts: tuple[str, ...]  # "press 0 for a consultant"


_BUDGET_SECONDS = ("prompt_s", "greeting_s", "menu_s", "information_s", "consultant_within_s")


@dataclass(frozen=True)
class PromptCatalog:
    """Every text the IVR says: ``text(prompt_id, language)``. Built by :meth:`load` or :meth:`from_data`."""

    languages: tuple[str, ...]
    texts: Mapping[str, Mapping[str, str]]
    budgets: PromptBudgets | None = None
    # Prompts whose texts await a review (a prompt's ``review:`` field): prompt id → whose, and what.
    reviews: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.texts)

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self.texts

    def text(self, prompt_id: str, language: str) -> str:
        try:
            by_language = self.texts[prompt_id]
        except KeyError:
            raise KeyError(f"unknown prompt {prompt_id!r}") from None
        try:
            return by_language[language]
        except KeyError:
            raise KeyError(f"prompt {prompt_id!r} has no {language!r} text") from None

    @classmethod
    def load(cls, path: Path) -> PromptCatalog:
        return cls.from_data(read_data_file(path, PromptError), origin=str(path))

    @classmethod
    def from_data(cls, data: Any, *, origin: str = "prompts") -> PromptCatalog:
        """Validate parsed YAML: every prompt has a non-empty text in every language (and maybe a ``review``
        note: its texts await someone's review), budgets if any, and nothing else."""
        if not isinstance(data, dict) or not {"languages", "prompts"} <= set(data) <= _TOP_FIELDS:
            raise PromptError(
                f"{origin}: expected a mapping with exactly 'languages' and 'prompts' (and maybe 'budgets')"
            )
        languages = data["languages"]
        if (
            not isinstance(languages, list)
            or not languages
            or not all(isinstance(lang, str) and re.fullmatch(r"[a-z]{2,3}", lang) for lang in languages)
            or len(set(languages)) != len(languages)
        ):
            raise PromptError(f"{origin}: 'languages' must be a non-empty list of distinct language codes")
        prompts = data["prompts"]
        if not isinstance(prompts, dict) or not prompts:
            raise PromptError(f"{origin}: 'prompts' must be a non-empty mapping of prompt ids")
        texts: dict[str, Mapping[str, str]] = {}
        reviews: dict[str, str] = {}
        for prompt_id, by_language in prompts.items():
            if not isinstance(prompt_id, str) or not PROMPT_ID.fullmatch(prompt_id):
                raise PromptError(
                    f"{origin}: prompt id {prompt_id!r} must be lower case letters, digits and underscores"
                )
            if not isinstance(by_language, dict):
                raise PromptError(f"{origin}: prompt {prompt_id!r} must map each language to its text")
            if REVIEW in by_language:
                note = by_language[REVIEW]
                if not isinstance(note, str) or not normalize_text(note):
                    raise PromptError(
                        f"{origin}: prompt {prompt_id!r}: 'review' must say whose review it awaits"
                    )
                reviews[prompt_id] = normalize_text(note)
            unknown = sorted(str(lang) for lang in by_language if lang not in languages and lang != REVIEW)
            if unknown:
                raise PromptError(f"{origin}: prompt {prompt_id!r} has unknown language(s) {unknown}")
            checked: dict[str, str] = {}
            for lang in languages:
                text = by_language.get(lang)
                if not isinstance(text, str) or not normalize_text(text):
                    raise PromptError(f"{origin}: prompt {prompt_id!r} has no {lang!r} text")
                checked[lang] = normalize_text(text)
            texts[prompt_id] = MappingProxyType(checked)
        budgets = None if data.get("budgets") is None else _budgets(data["budgets"], texts, origin)
        return cls(
            languages=tuple(languages),
            texts=MappingProxyType(texts),
            budgets=budgets,
            reviews=MappingProxyType(reviews),
        )


_TOP_FIELDS = frozenset({"languages", "prompts", "budgets"})


def _budgets(data: Any, prompt_ids: Collection[str], origin: str) -> PromptBudgets:
    fields = (*_BUDGET_SECONDS, "consultant_prompts")
    if not isinstance(data, dict) or set(data) != set(fields):
        raise PromptError(f"{origin}: 'budgets' must give exactly {', '.join(fields)}")
    seconds: dict[str, float] = {}
    for name in _BUDGET_SECONDS:
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 3600:
            raise PromptError(f"{origin}: budgets.{name} must be a number of seconds above 0, not {value!r}")
        seconds[name] = float(value)
    consultant = data["consultant_prompts"]
    if not isinstance(consultant, list) or not consultant or len(set(map(str, consultant))) < len(consultant):
        raise PromptError(f"{origin}: budgets.consultant_prompts must list distinct prompt ids")
    unknown = [str(prompt_id) for prompt_id in consultant if prompt_id not in prompt_ids]
    if unknown:
        raise PromptError(f"{origin}: budgets.consultant_prompts names unknown prompt(s) {unknown}")
    return PromptBudgets(**seconds, consultant_prompts=tuple(consultant))
