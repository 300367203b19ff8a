"""What people read, by language: ``texts/<language>.yaml``, nested keys flattened to ``section.key``."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

TEXTS_DIR = Path(__file__).resolve().parent / "texts"
DEFAULT_LANGUAGE = "pl"


class Texts:
    """Lookup of texts by dotted key; a missing key is a bug and raises ``KeyError``."""

    def __init__(self, language: str, entries: Mapping[str, str]) -> None:
        self.language = language
        self._entries = dict(entries)

    def __call__(self, key: str, **values: Any) -> str:
        text = self._entries[key]
        return text.format(**values) if values else text

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def label(self, section: str, code: str | None) -> str:
        """The human name of a code (``outcomes``, ``topics``…); unknown codes are shown as they are."""
        if code is None:
            return self("calls.no_value")
        return self._entries.get(f"{section}.{code}", code)

    def keys(self) -> frozenset[str]:
        return frozenset(self._entries)


def _flatten(prefix: str, node: Any, into: dict[str, str]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, into)
    elif isinstance(node, str):
        into[prefix] = node
    else:
        raise ValueError(f"texts: {prefix!r} must be a string, not {type(node).__name__}")


@cache
def load_texts(language: str = DEFAULT_LANGUAGE) -> Texts:
    if not language.isalpha():
        raise ValueError(f"bad language code {language!r}")
    path = TEXTS_DIR / f"{language}.yaml"
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    entries: dict[str, str] = {}
    _flatten("", raw, entries)
    return Texts(language, entries)
