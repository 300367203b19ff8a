"""Polish search over the offers, behind one interface with a backend per database.

``search_backend(engine)`` picks by the engine's dialect: SQLite FTS5 (the default database) or PostgreSQL
full-text search. Both search the same terms (``hotline.offers.text``): every typed word must match (any of
its lemmas, or as a prefix while it is being typed) in the occupation, employer, description or place of an
offer. Results are ranked: the caller's powiat, then its neighbours, then the voivodeship, then the rest;
fresher offers first within each; every hit says which fields matched and how near it is.

Each of those tiers is searched on its own, nearest first, for its newest matches only, until the page is
full, so that a broad query (tens of thousands of matches at a million offers) never fetches and sorts all
of them: SQLite reads them in order straight from the FTS5 index, whose rowids sort newest first, with the
place and working time as facet terms of the same index; PostgreSQL reads the tier's newest offers in
order from a B-tree and asks the GIN index only when those hold too few matches (see the backends).

Only bound parameters reach the database: the match expression is built from folded ``[a-z0-9]`` terms,
each one quoted, never from the raw text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    RowMapping,
    Select,
    Table,
    func,
    literal,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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
EPOCH = date(1970, 1, 1)
# The offer's id in the low 32 bits of its FTS5 rowid (see search_rowid).
ID_MASK = 2**32 - 1
# Candidates read beyond the page, for offers past their date that the next import will withdraw.
CANDIDATE_MARGIN = 10
# PostgreSQL: how many of a tier's newest offers are read in order before the GIN index is asked.
PROBE = 3000


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


@dataclass(frozen=True)
class Tier:
    """One rank of nearness, searched on its own: offers in ``powiats`` (any, when empty) and ``voivodeship``,
    outside ``not_powiats`` and ``not_voivodeship``."""

    number: int
    powiats: tuple[str, ...] = ()
    voivodeship: str | None = None
    not_powiats: tuple[str, ...] = ()
    not_voivodeship: str | None = None


def tiers(query: OfferQuery) -> list[Tier]:
    """The tiers the query's place and scope take in, nearest first; they do not overlap."""
    places = load_places()
    voivodeship = query.area_voivodeship
    if query.powiat:
        found = [Tier(0, powiats=(query.powiat,))]
        neighbours = tuple(sorted(places.neighbours(query.powiat) - {query.powiat}))
        if neighbours and query.scope != "powiat":
            found.append(Tier(1, powiats=neighbours))
        near = (query.powiat, *neighbours)
        if query.scope in ("voivodeship", "country"):
            found.append(Tier(2, voivodeship=voivodeship, not_powiats=near))
        if query.scope == "country":
            found.append(Tier(3, not_powiats=near, not_voivodeship=voivodeship))
        return found
    if voivodeship:
        found = [Tier(2, voivodeship=voivodeship)]
        if query.scope == "country":
            found.append(Tier(3, not_voivodeship=voivodeship))
        return found
    return [Tier(3)]


def search_rowid(published_on: date, offer_id: int) -> int:
    """The FTS5 rowid of an offer (migration 0003): it sorts newest first, then by id, as results do."""
    return ((published_on - EPOCH).days << 32) + offer_id


def fts5_expression(words: Sequence[QueryWord], tier: Tier, working_time: str | None = None) -> str | None:
    """An FTS5 MATCH expression: each word an OR of its quoted terms (and prefix), all ANDed, with the tier's
    place and the working time as facet terms; None when there is nothing to match (every offer)."""
    groups = []
    for word in words:
        options = [_quote(term) for term in word.terms]
        if word.prefix:
            options.append(_quote(word.prefix) + "*")
        groups.append(options)
    if tier.powiats:
        groups.append([_quote(f"p{code}") for code in tier.powiats])
    if tier.voivodeship:
        groups.append([_quote(f"v{tier.voivodeship}")])
    if working_time:
        groups.append([_quote(f"t{working_time.replace('_', '')}")])
    excluded = [_quote(f"p{code}") for code in tier.not_powiats]
    if tier.not_voivodeship:
        excluded.append(_quote(f"v{tier.not_voivodeship}"))
    if not groups:
        if not excluded:
            return None
        # Every offer has its voivodeship's term: all of them but the excluded one stand for "anywhere else".
        groups.append([_quote(f"v{code}") for code in sorted(load_places().voivodeships)])
    expression = " AND ".join("(" + " OR ".join(options) + ")" for options in groups)
    if excluded:
        expression = f"({expression}) NOT ({' OR '.join(excluded)})"
    return expression


def tsquery_expression(words: Sequence[QueryWord]) -> str | None:
    """The words for PostgreSQL's ``to_tsquery('simple', …)``: terms are ``[a-z0-9]`` only."""
    groups = []
    for word in words:
        options = list(word.terms)
        if word.prefix:
            options.append(word.prefix + ":*")
        groups.append("(" + " | ".join(options) + ")")
    return " & ".join(groups) or None


class _SqlSearch:
    """What both backends share: the tiers are searched one after the other, nearest first, each for its
    newest offers, until the page is full; each backend says how one tier is read (:meth:`_tier_rows`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def _tier_rows(
        self,
        conn: AsyncConnection,
        query: OfferQuery,
        words: Sequence[QueryWord],
        tier: Tier,
        need: int,
        today: date,
    ) -> Sequence[RowMapping]:
        raise NotImplementedError

    @staticmethod
    def _live(table: Table, query: OfferQuery, today: date) -> list[ColumnElement[bool]]:
        c = table.c
        conditions = [c.withdrawn_at.is_(None), c.valid_until >= today]
        if query.fresh_days is not None:
            conditions.append(c.published_on >= today - timedelta(days=query.fresh_days))
        return conditions

    @staticmethod
    def _working_time(query: OfferQuery) -> str | None:
        return query.working_time if query.kind == "job_offer" else None

    async def search(self, query: OfferQuery, today: date) -> list[OfferHit]:
        reference = parse_reference(query.text)
        words = query_words(query.text, typing=query.typing)[:MAX_WORDS]
        if reference is not None:
            return await self._by_reference(*reference, today=today)
        if query.text.strip() and not words:
            return []
        async with self.engine.connect() as conn:
            found = await self._rows(conn, query, words, today)
        return [_hit(query.kind, row, tier, words, query) for tier, row in found[: query.limit]]

    async def _rows(
        self, conn: AsyncConnection, query: OfferQuery, words: Sequence[QueryWord], today: date
    ) -> list[tuple[int, RowMapping]]:
        """``(tier, row)`` of the results in order: the tiers one after the other until the page is full."""
        found: list[tuple[int, RowMapping]] = []
        for tier in tiers(query):
            rows = await self._tier_rows(conn, query, words, tier, query.limit - len(found), today)
            found.extend((tier.number, row) for row in rows)
            if len(found) >= query.limit:
                break
        return found

    async def _by_reference(self, kind: str, offer_id: int, today: date) -> list[OfferHit]:
        table = TABLES[kind]
        if offer_id > 2**31 - 1:
            return []
        statement = select(table).where(table.c.id == offer_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(statement)).mappings().all()
        return [_hit(kind, row, 3, [], OfferQuery(kind=kind)) for row in rows]


def _hit(kind: str, row: Any, tier: int, words: Sequence[QueryWord], query: OfferQuery) -> OfferHit:
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
        place_tier=TIERS[tier] if has_place else None,
        matched=matched_fields,
        details=details,
    )


class Fts5Search(_SqlSearch):
    """SQLite: the ``<table>_fts`` FTS5 index (migration 0003), whose rowids sort newest first: the newest
    matches of a tier are read from the index alone, then only those offers are fetched."""

    async def _tier_rows(
        self,
        conn: AsyncConnection,
        query: OfferQuery,
        words: Sequence[QueryWord],
        tier: Tier,
        need: int,
        today: date,
    ) -> Sequence[RowMapping]:
        table = TABLES[query.kind]
        expression = fts5_expression(words, tier, self._working_time(query))
        if expression is None:
            statement = (
                select(table)
                .where(*self._live(table, query, today))
                .order_by(table.c.published_on.desc(), table.c.id.desc())
                .limit(need)
            )
            return (await conn.execute(statement)).mappings().all()
        fts = f"{table.name}_fts"
        oldest = today - timedelta(days=query.fresh_days) if query.fresh_days is not None else EPOCH
        candidates = text(
            f"SELECT rowid FROM {fts} WHERE {fts} MATCH :match AND rowid >= :lowest AND rowid < :below "
            "ORDER BY rowid DESC LIMIT :batch"
        )
        found: list[RowMapping] = []
        below = 2**63 - 1
        batch = need + CANDIDATE_MARGIN
        while len(found) < need:
            rowids = (
                (
                    await conn.execute(
                        candidates,
                        {
                            "match": expression,
                            "lowest": search_rowid(oldest, 0),
                            "below": below,
                            "batch": batch,
                        },
                    )
                )
                .scalars()
                .all()
            )
            if not rowids:
                break
            ids = [rowid & ID_MASK for rowid in rowids]
            statement = select(table).where(table.c.id.in_(ids), *self._live(table, query, today))
            by_id = {row["id"]: row for row in (await conn.execute(statement)).mappings()}
            found.extend(by_id[i] for i in ids if i in by_id)
            if len(rowids) < batch:
                break
            # Offers not valid any more (withdrawn by the next import) took places: read further.
            below = rowids[-1]
            batch *= 2
        return found[:need]


class PostgresSearch(_SqlSearch):
    """PostgreSQL: the generated ``search_vector`` column and its GIN index (offers on offer only), and
    B-tree indexes on (place, published_on, id) that carry the filtered columns (migration 0003).

    A tier's newest offers are read in order from a B-tree (index only, at most ``PROBE`` of them), and each
    is checked against the words until the page is full: a broad query ("spawacz" in the whole country,
    tens of thousands of matches) is done after a few hundred offers instead of fetching and sorting all
    its matches. Only when those newest offers hold too few matches does the GIN index find them all (few,
    then), and those are sorted. The check is written as ``ts_match_vq`` so that the planner cannot trade
    the ordered read for the GIN index on its own estimate: words that go together ("kierowca ciągnika
    siodłowego") match far more offers than it expects. The GIN part of a tier's statement runs only when
    the probe came back short (a one-time filter on its count).
    """

    async def _rows(
        self, conn: AsyncConnection, query: OfferQuery, words: Sequence[QueryWord], today: date
    ) -> list[tuple[int, RowMapping]]:
        # The never-run part of a tier's statement is costed high on a large table, which would switch JIT
        # compilation on: some 60 ms, for a statement that takes a few. And each statement is planned for its
        # own words and place: a prepared statement's generic plan, made for any words, is slower.
        settings = {"jit": "off", "plan_cache_mode": "force_custom_plan"}
        await conn.execute(select(*(func.set_config(name, value, True) for name, value in settings.items())))
        return await super()._rows(conn, query, words, today)

    async def _tier_rows(
        self,
        conn: AsyncConnection,
        query: OfferQuery,
        words: Sequence[QueryWord],
        tier: Tier,
        need: int,
        today: date,
    ) -> Sequence[RowMapping]:
        statement = self._tier(TABLES[query.kind], query, tier, tsquery_expression(words), need, today)
        rows = list((await conn.execute(statement)).mappings())
        if any(row["every"] for row in rows):
            rows = [row for row in rows if row["every"]]
        return sorted(rows, key=lambda row: (row["published_on"], row["id"]), reverse=True)

    def _tier(
        self, table: Table, query: OfferQuery, tier: Tier, expression: str | None, need: int, today: date
    ) -> Select[Any] | CompoundSelect[Any]:
        """One tier's newest matches (``every`` false), or, when the probe finds too few, all its matches
        by the GIN index (``every`` true), at most ``need`` of each."""
        c = table.c
        conditions = self._live(table, query, today)
        if tier.voivodeship:
            conditions.append(c.voivodeship == tier.voivodeship)
        if tier.not_powiats:
            conditions.append(c.powiat.not_in(tier.not_powiats))
        if tier.not_voivodeship:
            conditions.append(c.voivodeship != tier.not_voivodeship)
        working_time = self._working_time(query)
        if working_time:
            conditions.append(c.working_time == working_time)
        newest = self._newest(table, conditions, tier, PROBE if expression else need).subquery()
        statement = (
            select(table, literal(False).label("every"))
            .join(newest, c.id == newest.c.id)
            .order_by(newest.c.published_on.desc(), newest.c.id.desc())
            .limit(need)
        )
        if expression is None:
            return statement
        tsquery = func.to_tsquery("simple", expression)
        probe = statement.where(func.ts_match_vq(_vector(table), tsquery)).cte("probe")
        # Its order is computed ("+ 0") so that the planner cannot walk the dates instead, reading the
        # whole tier.
        if tier.powiats:
            conditions.append(c.powiat.in_(tier.powiats))
        every = (
            select(table, literal(True).label("every"))
            .where(*conditions, _vector(table).bool_op("@@")(tsquery))
            .order_by((c.published_on + literal_column("0", Integer)).desc(), c.id.desc())
            .limit(need)
            .subquery()
        )
        found = select(func.count()).select_from(probe).scalar_subquery()
        return union_all(select(probe), select(every).where(found < need))

    @staticmethod
    def _newest(table: Table, conditions: list[ColumnElement[bool]], tier: Tier, limit: int) -> Select[Any]:
        """Ids of the tier's newest offers, in order, from the index alone; several powiats are merged from
        one ordered read each."""
        c = table.c
        order = (c.published_on.desc(), c.id.desc())
        if len(tier.powiats) <= 1:
            where = [*conditions, *(c.powiat == code for code in tier.powiats)]
            return select(c.id, c.published_on).where(*where).order_by(*order).limit(limit)
        parts = union_all(
            *(
                select(c.id, c.published_on)
                .where(*conditions, c.powiat == code)
                .order_by(*order)
                .limit(limit)
                for code in tier.powiats
            )
        ).subquery()
        return select(parts).order_by(parts.c.published_on.desc(), parts.c.id.desc()).limit(limit)


def _vector(table: Table) -> ColumnElement[Any]:
    return literal_column(f"{table.name}.search_vector")


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
