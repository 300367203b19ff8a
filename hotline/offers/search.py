"""Polish search over the offers, behind one interface with a backend per database.

``search_backend(engine)`` picks by the engine's dialect: SQLite FTS5 (the default database) or PostgreSQL
full-text search. Both search the same terms (``hotline.offers.text``): every typed word must match (any of
its lemmas, or as a prefix while it is being typed) in the occupation, employer, description or place of an
offer. Filters (place, working time) are terms of the same index, so the text index narrows by them too.
Results are ranked: the caller's powiat, then its neighbours, then the voivodeship, then the rest; fresher
offers first within each; every hit says which fields matched and how near it is.

Only bound parameters reach the database: the match expression is built from folded ``[a-z0-9]`` terms,
each one quoted, never from the raw text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, Table, case, func, literal, literal_column, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.offers.importer import TABLES
from hotline.offers.models import TERM_COLUMNS, offer_reference, parse_reference
from hotline.offers.places import load_places
from hotline.offers.text import QueryWord, matched, query_words

KINDS = ("job_offer", "training")
WORKING_TIMES = ("full_time", "part_time", "flexible")
SCOPES = ("powiat", "neighbours", "voivodeship", "country")
MAX_QUERY_LENGTH = 200
MAX_WORDS = 8
# Which stored terms stand for which part of an offer, in the order reasons are given.
FIELDS = {
    "terms_occupation": "occupation",
    "terms_employer": "employer",
    "terms_body": "description",
    "terms_place": "place",
}
TIERS = ("powiat", "neighbour", "voivodeship", "elsewhere")


@dataclass(frozen=True)
class OfferQuery:
    text: str = ""
    kind: str = "job_offer"
    # TERYT of the caller's powiat; the voivodeship follows from it unless given on its own.
    powiat: str | None = None
    voivodeship: str | None = None
    scope: str = "voivodeship"
    working_time: str | None = None
    # Only offers published within this many days.
    fresh_days: int | None = None
    # The last word may still be growing: match it as a prefix too.
    typing: bool = True
    limit: int = 20

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}")
        if self.working_time is not None and self.working_time not in WORKING_TIMES:
            raise ValueError(f"working_time must be one of {WORKING_TIMES}")
        if self.powiat is not None and not (len(self.powiat) == 4 and self.powiat.isdigit()):
            raise ValueError("powiat must be a four-digit TERYT code")
        if self.voivodeship is not None and not (len(self.voivodeship) == 2 and self.voivodeship.isdigit()):
            raise ValueError("voivodeship must be a two-digit TERYT code")
        if len(self.text) > MAX_QUERY_LENGTH:
            raise ValueError(f"query longer than {MAX_QUERY_LENGTH} characters")
        if not 1 <= self.limit <= 200:
            raise ValueError("limit must be between 1 and 200")
        if self.fresh_days is not None and not 0 <= self.fresh_days <= 3650:
            raise ValueError("fresh_days must be between 0 and 3650")

    @property
    def area_voivodeship(self) -> str | None:
        return self.voivodeship or (self.powiat[:2] if self.powiat else None)


@dataclass(frozen=True)
class OfferHit:
    kind: str
    id: int
    reference: str
    title: str
    occupation_code: str | None
    employer: str
    town: str
    powiat: str
    powiat_name: str
    published_on: date
    valid_until: date
    # How near the caller: powiat | neighbour | voivodeship | elsewhere; None without a place.
    place_tier: str | None
    # Which parts of the offer the words matched: occupation, employer, description, place.
    matched: tuple[str, ...]
    # Job offers: working time and pay; training: dates, hours, cost.
    details: dict[str, Any] = field(default_factory=dict)


class OfferSearch(Protocol):
    async def search(self, query: OfferQuery, today: date) -> list[OfferHit]: ...


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _facet_groups(query: OfferQuery) -> list[list[str]]:
    """Filter terms: each group is an OR of terms, the groups are ANDed with the words."""
    groups: list[list[str]] = []
    places = load_places()
    if query.powiat and query.scope != "country":
        area = [f"p{query.powiat}"]
        if query.scope in ("neighbours", "voivodeship"):
            area += [f"p{n}" for n in sorted(places.neighbours(query.powiat))]
        if query.scope == "voivodeship":
            area.append(f"v{query.area_voivodeship}")
        groups.append(area)
    elif query.voivodeship and query.scope != "country":
        groups.append([f"v{query.voivodeship}"])
    if query.working_time and query.kind == "job_offer":
        groups.append([f"t{query.working_time.replace('_', '')}"])
    return groups


def fts5_expression(words: Sequence[QueryWord], facets: Sequence[Sequence[str]]) -> str:
    """An FTS5 MATCH expression: each word an OR of its quoted terms (and prefix), all ANDed."""
    groups = []
    for word in words:
        options = [_quote(term) for term in word.terms]
        if word.prefix:
            options.append(_quote(word.prefix) + "*")
        groups.append("(" + " OR ".join(options) + ")")
    groups += ["(" + " OR ".join(_quote(term) for term in group) + ")" for group in facets]
    return " AND ".join(groups)


def tsquery_expression(words: Sequence[QueryWord], facets: Sequence[Sequence[str]]) -> str:
    """The same for PostgreSQL's ``to_tsquery('simple', …)``: terms are ``[a-z0-9]`` only."""
    groups = []
    for word in words:
        options = list(word.terms)
        if word.prefix:
            options.append(word.prefix + ":*")
        groups.append("(" + " | ".join(options) + ")")
    groups += ["(" + " | ".join(group) + ")" for group in facets]
    return " & ".join(groups)


class _SqlSearch:
    """What both backends share; each one says how the text index is asked (:meth:`_text_match`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def _text_match(
        self, table: Table, words: Sequence[QueryWord], facets: list[list[str]]
    ) -> ColumnElement[bool]:
        raise NotImplementedError

    def _statement(self, query: OfferQuery, words: list[QueryWord], today: date) -> Select[Any]:
        table = TABLES[query.kind]
        places = load_places()
        c = table.c
        tiers: list[tuple[ColumnElement[bool], int]] = []
        if query.powiat:
            tiers.append((c.powiat == query.powiat, 0))
            neighbours = sorted(places.neighbours(query.powiat))
            if neighbours:
                tiers.append((c.powiat.in_(neighbours), 1))
        if query.area_voivodeship:
            tiers.append((c.voivodeship == query.area_voivodeship, 2))
        tier = case(*tiers, else_=literal(3)) if tiers else literal(3)
        statement = select(table, tier.label("tier")).where(c.withdrawn_at.is_(None), c.valid_until >= today)
        facets = _facet_groups(query)
        if words:
            statement = statement.where(self._text_match(table, words, facets))
        else:
            statement = statement.where(*self._column_filters(table, query))
        if query.fresh_days is not None:
            statement = statement.where(c.published_on >= today - timedelta(days=query.fresh_days))
        return statement.order_by(tier, c.published_on.desc(), c.id.desc()).limit(query.limit)

    @staticmethod
    def _column_filters(table: Table, query: OfferQuery) -> list[ColumnElement[bool]]:
        c = table.c
        filters: list[ColumnElement[bool]] = []
        if query.powiat and query.scope != "country":
            area: list[ColumnElement[bool]] = [c.powiat == query.powiat]
            if query.scope in ("neighbours", "voivodeship"):
                area.append(c.powiat.in_(sorted(load_places().neighbours(query.powiat))))
            if query.scope == "voivodeship":
                area.append(c.voivodeship == query.area_voivodeship)
            filters.append(or_(*area))
        elif query.voivodeship and query.scope != "country":
            filters.append(c.voivodeship == query.voivodeship)
        if query.working_time and query.kind == "job_offer":
            filters.append(c.working_time == query.working_time)
        return filters

    async def search(self, query: OfferQuery, today: date) -> list[OfferHit]:
        reference = parse_reference(query.text)
        words = query_words(query.text, typing=query.typing)[:MAX_WORDS]
        if reference is not None:
            return await self._by_reference(*reference, today=today)
        if query.text.strip() and not words:
            return []
        async with self.engine.connect() as conn:
            rows = (await conn.execute(self._statement(query, words, today))).mappings().all()
        return [_hit(query.kind, row, words, query) for row in rows]

    async def _by_reference(self, kind: str, offer_id: int, today: date) -> list[OfferHit]:
        table = TABLES[kind]
        if offer_id > 2**31 - 1:
            return []
        statement = select(table, literal(3).label("tier")).where(table.c.id == offer_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(statement)).mappings().all()
        return [_hit(kind, row, [], OfferQuery(kind=kind)) for row in rows]


def _hit(kind: str, row: Any, words: list[QueryWord], query: OfferQuery) -> OfferHit:
    places = load_places()
    powiat = places.powiat(row["powiat"])
    matched_fields = tuple(
        name for column, name in FIELDS.items() if words and any(matched((w,), row[column]) for w in words)
    )
    has_place = bool(query.powiat or query.voivodeship)
    if kind == "job_offer":
        title = row["position"] or row["occupation_name"]
        employer = row["employer_name"]
        details = {
            "working_time": row["working_time"],
            "pay_min": row["pay_min"],
            "pay_max": row["pay_max"],
            "pay_unit": row["pay_unit"],
            "contract": row["contract"],
            "vacancies": row["vacancies"],
            "occupation_name": row["occupation_name"],
        }
    else:
        title = row["topic"]
        employer = row["organiser"]
        details = {
            "starts_on": row["starts_on"],
            "ends_on": row["ends_on"],
            "hours": row["hours"],
            "cost": row["cost"],
        }
    return OfferHit(
        kind=kind,
        id=row["id"],
        reference=offer_reference(kind, row["id"]),
        title=title,
        occupation_code=row["occupation_code"],
        employer=employer,
        town=row["town"],
        powiat=row["powiat"],
        powiat_name=powiat.name if powiat else row["powiat"],
        published_on=row["published_on"],
        valid_until=row["valid_until"],
        place_tier=TIERS[int(row["tier"])] if has_place else None,
        matched=matched_fields,
        details=details,
    )


class Fts5Search(_SqlSearch):
    """SQLite: the ``<table>_fts`` FTS5 index (external content, kept by triggers)."""

    def _text_match(
        self, table: Table, words: Sequence[QueryWord], facets: list[list[str]]
    ) -> ColumnElement[bool]:
        fts = f"{table.name}_fts"
        expression = fts5_expression(words, facets)
        matches = (
            select(text("rowid"))
            .select_from(text(fts))
            .where(text(f"{fts} MATCH :match").bindparams(match=expression))
        )
        return table.c.id.in_(matches)


class PostgresSearch(_SqlSearch):
    """PostgreSQL: the generated ``search_vector`` column and its GIN index."""

    def _text_match(
        self, table: Table, words: Sequence[QueryWord], facets: list[list[str]]
    ) -> ColumnElement[bool]:
        expression = tsquery_expression(words, facets)
        vector: ColumnElement[Any] = literal_column(f"{table.name}.search_vector")
        return vector.bool_op("@@")(func.to_tsquery("simple", expression))


def search_backend(engine: AsyncEngine) -> OfferSearch:
    """The backend for the engine's database: PostgreSQL full-text search, or SQLite FTS5."""
    if engine.dialect.name == "postgresql":
        return PostgresSearch(engine)
    return Fts5Search(engine)


__all__ = [
    "KINDS",
    "SCOPES",
    "TERM_COLUMNS",
    "WORKING_TIMES",
    "Fts5Search",
    "OfferHit",
    "OfferQuery",
    "OfferSearch",
    "PostgresSearch",
    "search_backend",
]
