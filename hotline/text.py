"""Text compared the way people type it: lower case, without Polish letters ("Łódź" and "lodz" are one)."""

from __future__ import annotations

import unicodedata

# Letters that do not decompose into a base letter and a mark.
_FOLD = str.maketrans({"ł": "l", "Ł": "l", "ß": "ss"})


def fold(text: str) -> str:
    """Lower case, without diacritics: "Żłobek" → "zlobek"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD).lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# The Polish alphabet's order: "l" < "ł" < "m", "z" < "ź" < "ż" (a plain code-point sort puts every Polish
# letter after "z"; a folded one mixes "l" and "ł").
_ALPHABET = "aąbcćdeęfghijklłmnńoópqrsśtuvwxyzźż"
_RANK = {letter: rank for rank, letter in enumerate(_ALPHABET)}


def collation_key(text: str) -> tuple[tuple[int, int], ...]:
    """Sort key for Polish names in alphabetical order, case-insensitive ("Łomża" after "lubuskie")."""
    return tuple((0, _RANK[ch]) if ch in _RANK else (1, ord(ch)) for ch in text.lower())
