"""Voivodeships and powiats (TERYT), their towns, labour offices and neighbours: ``data/places.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hotline.datafiles import load_yaml
from hotline.teryt import VOIVODESHIPS

PLACES_FILE = Path(__file__).resolve().parent / "data" / "places.yaml"


class PlacesFileError(ValueError):
    """The places file breaks its own rules (a code in the wrong form, a neighbour that is not listed)."""


@dataclass(frozen=True)
class Powiat:
    teryt: str
    name: str
    voivodeship: str
    office: str
    towns: tuple[str, ...]
    neighbours: frozenset[str]

    @property
    def seat(self) -> str:
        return self.towns[0]


@dataclass(frozen=True)
class Places:
    voivodeships: dict[str, str]
    powiats: dict[str, Powiat]

    def powiat(self, teryt: str) -> Powiat | None:
        return self.powiats.get(teryt)

    def neighbours(self, teryt: str) -> frozenset[str]:
        powiat = self.powiats.get(teryt)
        return powiat.neighbours if powiat else frozenset()

    def voivodeship_of(self, teryt: str) -> str:
        return teryt[:2]

    def by_voivodeship(self) -> list[tuple[str, str, list[Powiat]]]:
        """``(code, name, powiats by name)`` for each voivodeship, by name: for a choice list."""
        groups = []
        for code, name in sorted(self.voivodeships.items(), key=lambda item: item[1]):
            members = sorted(
                (p for p in self.powiats.values() if p.voivodeship == code), key=lambda p: p.name
            )
            groups.append((code, name, members))
        return groups


def _check_code(code: str, digits: int, what: str) -> str:
    if not (isinstance(code, str) and len(code) == digits and code.isdigit()):
        raise PlacesFileError(f"{what} code {code!r} must be {digits} digits (quote it in YAML)")
    return code


@cache
def load_places(path: Path = PLACES_FILE) -> Places:
    raw = load_yaml(path)
    voivodeships = {
        _check_code(code, 2, "voivodeship"): str(name) for code, name in raw["voivodeships"].items()
    }
    for code, name in voivodeships.items():
        if VOIVODESHIPS.get(code) != name:
            raise PlacesFileError(f"voivodeship {code} {name!r} is not a voivodeship of hotline.teryt")
    listed: dict[str, dict[str, object]] = {
        _check_code(code, 4, "powiat"): entry for code, entry in raw["powiats"].items()
    }
    neighbours: dict[str, set[str]] = {code: set() for code in listed}
    for code, entry in listed.items():
        if code[:2] not in voivodeships:
            raise PlacesFileError(f"powiat {code}: voivodeship {code[:2]} is not listed")
        for other in entry.get("neighbours") or []:  # type: ignore[attr-defined]
            if other not in listed:
                raise PlacesFileError(f"powiat {code}: neighbour {other} is not listed")
            if other == code:
                raise PlacesFileError(f"powiat {code} is its own neighbour")
            neighbours[code].add(other)
            neighbours[other].add(code)
    powiats = {
        code: Powiat(
            teryt=code,
            name=str(entry["name"]),
            voivodeship=code[:2],
            office=str(entry["office"]),
            towns=tuple(str(town) for town in entry["towns"]),  # type: ignore[attr-defined]
            neighbours=frozenset(neighbours[code]),
        )
        for code, entry in listed.items()
    }
    return Places(voivodeships=voivodeships, powiats=powiats)
