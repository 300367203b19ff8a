"""Text compared the way people type it: lower case, without Polish letters ("Łódź" and "lodz" are one)."""

from __future__ import annotations

import unicodedata

# Letters that do not decompose into a base letter and a mark.
_FOLD = str.maketrans({"ł": "l", "Ł": "l", "ß": "ss"})


def fold(text: str) -> str:
    """Lower case, without diacritics: "Żłobek" → "zlobek"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD).lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
