"""Polish search on the real database (SQLite FTS5 or PostgreSQL): a hand-written table of queries and the
offers they must find, place ranking, filters, and input that must not break the match syntax."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.offers.importer import import_lines
from hotline.offers.models import JobOffer
from hotline.offers.search import Fts5Search, OfferHit, OfferQuery, PostgresSearch, search_backend
from hotline.offers.text import fold, query_lemmas, query_words
from tests.offers.feed_data import TODAY, job_offer, line, search_offers, unique_office

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def offers(db_engine: AsyncEngine) -> dict[str, int]:
    """The hand-written offers, imported once: letter → offer id."""
    office = unique_office()
    records = search_offers(office)
    summary = await import_lines(db_engine, [line(r) for r in records.values()], today=TODAY, now=NOW)
    assert summary.inserted == len(records) and summary.rejected == 0
    async with db_engine.connect() as conn:
        rows = await conn.execute(select(JobOffer.id, JobOffer.source_id).where(JobOffer.office_id == office))
        ids = {row.source_id.rsplit("/S", 1)[1]: row.id for row in rows}
    return ids


async def _letters(engine: AsyncEngine, offers: dict[str, int], query: OfferQuery) -> list[str]:
    by_id = {offer_id: letter for letter, offer_id in offers.items()}
    hits = await search_backend(engine).search(query, TODAY)
    return [by_id[hit.id] for hit in hits if hit.id in by_id]


# Written by hand from Polish: the consultant types what the caller says.
TABLE = [
    ("spawacz", "AGH"),
    ("spawacza", "AGH"),
    ("spawaczem", "AGH"),
    ("spawacze", "AGH"),
    ("SPAWACZY", "AGH"),
    ("spaw", "AGH"),  # still typing
    ("721204", "AGH"),  # the KZiS code
    ("kierowcy", "BK"),
    ("kierowców", "BK"),
    ("kierowcow", "BK"),
    ("kierowca autobusu", "K"),
    ("kierowcy ciężarówki", ""),
    ("kierowcy samochodów ciężarowych", "B"),
    ("pielęgniarki", "C"),
    ("pielegniarki", "C"),
    ("pielęgniarkę", "C"),
    ("pielegniarka", "C"),
    ("żłobek", "D"),
    ("zlobek", "D"),
    ("żłobka", "D"),
    ("zlobku", "D"),
    ("opiekuna", "DL"),
    ("opiekun osób starszych", "L"),
    ("magazyniera", "E"),
    ("wozkiem widlowym", "E"),
    ("wózek", "E"),
    ("kucharza w Białymstoku", "F"),
    ("kucharz bialystok", "F"),
    ("spawacz Katowicach", "H"),
    ("księgowej", "I"),
    ("ksiegowego", "I"),
    ("sklepie", "J"),
    ("Polbud", "A"),
    ("praca jako spawacz", "AGH"),
    ("hydraulik", ""),
]


@pytest.mark.parametrize(("typed", "expected"), TABLE)
async def test_polish_queries_find_the_right_offers(
    db_engine: AsyncEngine, offers: dict[str, int], typed: str, expected: str
) -> None:
    found = await _letters(db_engine, offers, OfferQuery(text=typed, scope="country", limit=200))
    assert sorted(found) == sorted(expected), typed


async def test_the_callers_powiat_comes_first_then_neighbours_then_the_voivodeship(
    db_engine: AsyncEngine, offers: dict[str, int]
) -> None:
    backend = search_backend(db_engine)
    # H (Katowice) is the freshest, G (Wasilków, next to Białystok) next, A (Białystok) the oldest.
    everywhere = await _letters(db_engine, offers, OfferQuery(text="spawacz", scope="country", limit=200))
    assert everywhere == ["H", "G", "A"]
    near = await _letters(
        db_engine, offers, OfferQuery(text="spawacz", powiat="2061", scope="country", limit=200)
    )
    assert near == ["A", "G", "H"]
    hits = await backend.search(OfferQuery(text="spawacza", powiat="2061", scope="country", limit=200), TODAY)
    tiers = {hit.id: hit.place_tier for hit in hits}
    assert [tiers[offers[letter]] for letter in "AGH"] == ["powiat", "neighbour", "elsewhere"]
    # The default scope keeps the caller's voivodeship (and neighbours); narrower scopes narrow.
    assert await _letters(db_engine, offers, OfferQuery(text="spawacz", powiat="2061", limit=200)) == [
        "A",
        "G",
    ]
    assert await _letters(db_engine, offers, OfferQuery(text="spaw", powiat="2061", scope="powiat")) == ["A"]
    # A place alone, without words, lists what is near.
    assert set(await _letters(db_engine, offers, OfferQuery(powiat="2061", scope="powiat", limit=200))) == {
        "A",
        "F",
    }


async def test_each_hit_says_why_it_matched(db_engine: AsyncEngine, offers: dict[str, int]) -> None:
    backend = search_backend(db_engine)
    (hit,) = [h for h in await backend.search(OfferQuery(text="żłobka"), TODAY) if h.id == offers["D"]]
    assert set(hit.matched) == {"occupation", "employer"}
    (hit,) = [
        h for h in await backend.search(OfferQuery(text="kucharza białymstoku"), TODAY) if h.id == offers["F"]
    ]
    assert set(hit.matched) == {"occupation", "place"}
    assert hit.reference == f"OF-{offers['F']}"
    (found,) = await backend.search(OfferQuery(text=f"of-{offers['F']}"), TODAY)
    assert isinstance(found, OfferHit) and found.id == offers["F"]


async def test_working_time_and_freshness_filters(db_engine: AsyncEngine, offers: dict[str, int]) -> None:
    part = OfferQuery(text="pielęgniarka", working_time="part_time", scope="country")
    full = OfferQuery(text="pielęgniarka", working_time="full_time", scope="country")
    assert await _letters(db_engine, offers, part) == ["C"]
    assert await _letters(db_engine, offers, full) == []
    fresh = OfferQuery(text="spawacz", fresh_days=7, scope="country", limit=200)
    assert await _letters(db_engine, offers, fresh) == ["H", "G"]


async def test_the_index_follows_updates_withdrawals_and_returns(db_engine: AsyncEngine) -> None:
    """The index holds offers on offer only, keyed by their date: an update, a new date, a withdrawal and a
    return are all seen by the search (SQLite: the triggers of migration 0003)."""
    office = unique_office()
    common = {"code": "712101", "employer": "Piece i Kominki", "powiat": "1061", "town": "Łódź"}
    first = job_offer(f"{office}/1", office, occupation="Zdun", published="2026-11-10", **common)
    second = job_offer(f"{office}/2", office, occupation="Zdun", published="2026-11-12", **common)

    async def found(typed: str) -> list[str]:
        hits = await search_backend(db_engine).search(
            OfferQuery(text=typed, scope="country", limit=200), TODAY
        )
        async with db_engine.connect() as conn:
            rows = await conn.execute(
                select(JobOffer.id, JobOffer.source_id).where(JobOffer.office_id == office)
            )
            names = {row.id: row.source_id.rsplit("/", 1)[1] for row in rows}
        return [names[hit.id] for hit in hits if hit.id in names]

    await import_lines(db_engine, [line(first), line(second)], today=TODAY, now=NOW)
    assert await found("zduna") == ["2", "1"]
    # The first one is published again, later, as a stove fitter: newest first, under its new words only.
    moved = {**first, "published": "2026-11-25", "occupation": {"code": "712101", "name": "Monter pieców"}}
    await import_lines(db_engine, [line(moved), line(second)], today=TODAY, now=NOW)
    assert await found("zduna") == ["2"]
    assert await found("montera pieców") == ["1"]
    # Withdrawn (missing from its office's feed), then back.
    await import_lines(db_engine, [line(moved)], today=TODAY, now=NOW)
    assert await found("zdun") == []
    await import_lines(db_engine, [line(moved), line(second)], today=TODAY, now=NOW)
    assert await found("piece") == ["1", "2"]
    if db_engine.dialect.name == "sqlite":
        async with db_engine.begin() as conn:
            await conn.execute(text("INSERT INTO job_offers_fts(job_offers_fts) VALUES ('integrity-check')"))


@pytest.mark.parametrize(
    "typed",
    [
        'spawacz" OR *',
        "NEAR(spawacz kierowca)",
        "spawacz'; DROP TABLE job_offers; --",
        "* ^ - + :",
        "a AND b",
        "{terms_occupation}: x",
        "ą" * 50,
        "spawacz | kierowca & !x",
        "\\",
    ],
)
async def test_match_syntax_typed_by_a_person_is_just_text(
    db_engine: AsyncEngine, offers: dict[str, int], typed: str
) -> None:
    hits = await search_backend(db_engine).search(OfferQuery(text=typed, scope="country"), TODAY)
    assert isinstance(hits, list)
    # The table is still there and still answers.
    assert await _letters(db_engine, offers, OfferQuery(text="spawacz", scope="country", limit=200))


def test_the_backend_follows_the_database(db_engine: AsyncEngine) -> None:
    expected = PostgresSearch if db_engine.dialect.name == "postgresql" else Fts5Search
    assert isinstance(search_backend(db_engine), expected)


def test_lemmas_and_folding() -> None:
    assert fold("Żłobek Pielęgniarka") == "zlobek pielegniarka"
    assert "spawacz" in query_lemmas("spawacza")
    assert "kierowca" in query_lemmas("kierowcy")
    assert "pielegniarka" in query_lemmas("pielęgniarki")
    assert "pielegniarka" in query_lemmas("pielegniarki")
    assert "zlobek" in query_lemmas("zlobka")
    words = query_words("praca dla spawacza w Białymstoku", typing=False)
    assert [w.typed for w in words] == ["spawacza", "Białymstoku"]
    assert query_words("spaw")[0].prefix == "spaw"
    assert query_words("spaw ", typing=True)[0].prefix is None
