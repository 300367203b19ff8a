"""Poland's voivodeships by their TERYT (TERC) codes: the one list every data file is checked against.

A powiat's TERYT code is four digits, the voivodeship's two first (``2001`` augustowski in ``20``
podlaskie); the third and fourth are 61 and above for cities with powiat rights (``2061`` Białystok).
"""

from __future__ import annotations

from hotline.text import fold

VOIVODESHIPS: dict[str, str] = {
    "02": "dolnośląskie",
    "04": "kujawsko-pomorskie",
    "06": "lubelskie",
    "08": "lubuskie",
    "10": "łódzkie",
    "12": "małopolskie",
    "14": "mazowieckie",
    "16": "opolskie",
    "18": "podkarpackie",
    "20": "podlaskie",
    "22": "pomorskie",
    "24": "śląskie",
    "26": "świętokrzyskie",
    "28": "warmińsko-mazurskie",
    "30": "wielkopolskie",
    "32": "zachodniopomorskie",
}


def voivodeship_code(text: str) -> str | None:
    """The code of a voivodeship given by its code ("20") or its name in any case, with or without Polish
    letters ("Podlaskie", "slaskie"); None when it is neither."""
    cleaned = text.strip()
    if cleaned in VOIVODESHIPS:
        return cleaned
    wanted = fold(cleaned)
    for code, name in VOIVODESHIPS.items():
        if fold(name) == wanted:
            return code
    return None
