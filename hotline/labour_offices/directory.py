"""The directory as consultants walk it: voivodeship → powiat → office → number, or a search by place.

Only active offices are offered; :meth:`LabourOfficeDirectory.office` also finds an inactive one by its
code, since a stored case card may name it. Lists are ordered in Python in Polish alphabetical order, so
SQLite and PostgreSQL give the same order whatever their collations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from hotline.db.models import LabourOffice, LabourOfficePowiat
from hotline.teryt import VOIVODESHIPS
from hotline.text import collation_key, fold

# What a search reads of the typed text: folded words, at most this many of them and characters.
SEARCH_WORD = re.compile(r"[a-z0-9]+")
MAX_SEARCH_WORDS = 6
MAX_SEARCH_LENGTH = 100
CITY_PREFIXES = ("m.st. ", "m. ")


@dataclass(frozen=True)
class Voivodeship:
    code: str
    name: str
    # active offices in it
    offices: int


@dataclass(frozen=True)
class Powiat:
    """A powiat and the office that serves it."""

    teryt: str
    name: str
    office_code: str
    office_name: str


@dataclass(frozen=True)
class ServedPowiat:
    teryt: str
    name: str


@dataclass(frozen=True)
class Branch:
    town: str
    # E.164; None when the branch is reached through the office's switchboard
    phone: str | None


@dataclass(frozen=True)
class Office:
    code: str
    name: str
    voivodeship: str
    town: str
    # E.164
    phone: str
    phone_verified: bool
    active: bool
    powiats: tuple[ServedPowiat, ...]
    branches: tuple[Branch, ...]

    @property
    def voivodeship_name(self) -> str:
        return VOIVODESHIPS[self.voivodeship]

    @property
    def transfer_number(self) -> str | None:
        """The number a call may be transferred to: the switchboard of an active office whose number was
        checked with the office; None for a placeholder number or an office no longer listed."""
        return self.phone if self.phone_verified and self.active else None


def _office(row: LabourOffice) -> Office:
    return Office(
        code=row.code,
        name=row.name,
        voivodeship=row.voivodeship,
        town=row.town,
        phone=row.phone,
        phone_verified=row.phone_verified,
        active=row.active,
        powiats=tuple(ServedPowiat(p.teryt, p.name) for p in row.powiats),
        branches=tuple(Branch(b.town, b.phone) for b in row.branches),
    )


def _without_city_prefix(name: str) -> str:
    """A powiat's name without the "m." of a city with powiat rights: "m. Białystok" → "Białystok"."""
    for prefix in CITY_PREFIXES:
        if name.lower().startswith(prefix):
            return name[len(prefix) :]
    return name


def place_key(name: str) -> str:
    """How a search matches a powiat or town: its folded words ("bielsko biala"), without the "m."."""
    return " ".join(SEARCH_WORD.findall(fold(_without_city_prefix(name))))


def place_order(name: str) -> tuple[tuple[int, int], ...]:
    """How powiats sort: alphabetically, a city among the others ("białostocki", "m. Białystok", …)."""
    return collation_key(_without_city_prefix(name))


def _office_order(office: Office) -> tuple[tuple[tuple[int, int], ...], ...]:
    return (collation_key(office.town), collation_key(office.name))


def search_words(text: str) -> list[str]:
    """The typed text as the search reads it: folded words of letters and digits."""
    return SEARCH_WORD.findall(fold(text[:MAX_SEARCH_LENGTH]))[:MAX_SEARCH_WORDS]


def _rank(office: Office, query: str) -> int:
    """0: the query is a place of the office (seat, branch town, powiat); 1: a place starts with it;
    2: it matched elsewhere (the office's name or code, the middle of a name)."""
    places = [office.town, *(b.town for b in office.branches), *(p.name for p in office.powiats)]
    keys = [place_key(place) for place in places]
    if query in keys:
        return 0
    if any(key.startswith(query) for key in keys):
        return 1
    return 2


class LabourOfficeDirectory:
    """The queries of the console and of transfers, on the hotline's database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def voivodeships(self) -> list[Voivodeship]:
        """All sixteen voivodeships by name, with how many active offices each has."""
        async with self.sessions() as db:
            result = await db.execute(
                select(LabourOffice.voivodeship, func.count())
                .where(LabourOffice.active.is_(True))
                .group_by(LabourOffice.voivodeship)
            )
            counts = {code: count for code, count in result.all()}
        every = [Voivodeship(code, name, counts.get(code, 0)) for code, name in VOIVODESHIPS.items()]
        return sorted(every, key=lambda v: collation_key(v.name))

    async def powiats(self, voivodeship: str) -> list[Powiat]:
        """The powiats of a voivodeship (TERYT code) that an active office serves, by name."""
        async with self.sessions() as db:
            rows = (
                await db.execute(
                    select(
                        LabourOfficePowiat.teryt,
                        LabourOfficePowiat.name,
                        LabourOffice.code,
                        LabourOffice.name,
                    )
                    .join(LabourOffice, LabourOfficePowiat.office_id == LabourOffice.id)
                    .where(LabourOffice.active.is_(True), LabourOffice.voivodeship == voivodeship)
                )
            ).all()
            powiats = [Powiat(teryt, name, code, office) for teryt, name, code, office in rows]
        return sorted(powiats, key=lambda p: (place_order(p.name), p.teryt))

    async def offices(self, voivodeship: str, powiat: str | None = None) -> list[Office]:
        """The active offices of a voivodeship (TERYT code), or only those serving ``powiat`` (TERYT code),
        by seat and name."""
        statement = (
            select(LabourOffice)
            .where(LabourOffice.active.is_(True), LabourOffice.voivodeship == voivodeship)
            .options(selectinload(LabourOffice.powiats), selectinload(LabourOffice.branches))
        )
        if powiat is not None:
            statement = statement.where(
                LabourOffice.id.in_(
                    select(LabourOfficePowiat.office_id).where(LabourOfficePowiat.teryt == powiat)
                )
            )
        async with self.sessions() as db:
            offices = [_office(row) for row in (await db.scalars(statement)).all()]
        return sorted(offices, key=_office_order)

    async def office(self, code: str) -> Office | None:
        """The office with this code, active or not (a case card may name one no longer listed)."""
        async with self.sessions() as db:
            row = await db.scalar(
                select(LabourOffice)
                .where(LabourOffice.code == code.strip().upper())
                .options(selectinload(LabourOffice.powiats), selectinload(LabourOffice.branches))
            )
        return _office(row) if row is not None else None

    async def search(self, text: str, limit: int = 20) -> list[Office]:
        """Active offices whose seat, branch towns, powiats, name or code hold every typed word, in any case,
        with or without Polish letters ("lomza", "Łomża", "białostocki", "2061"); those where the text is a
        place's name first, then those where a place's name starts with it."""
        words = search_words(text)
        if not words:
            return []
        statement = (
            select(LabourOffice)
            .where(LabourOffice.active.is_(True))
            .where(*(LabourOffice.search_terms.contains(word, autoescape=True) for word in words))
            .options(selectinload(LabourOffice.powiats), selectinload(LabourOffice.branches))
        )
        async with self.sessions() as db:
            found = [_office(row) for row in (await db.scalars(statement)).all()]
        query = " ".join(words)
        found.sort(key=lambda office: (_rank(office, query), *_office_order(office)))
        return found[:limit]
