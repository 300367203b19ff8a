"""Offer search benchmark: a million generated offers, twenty typical consultant queries, on SQLite (FTS5)
and on PostgreSQL (full-text search), each against a plain ``LIKE '%word%'`` scan in the same run.

    .venv/bin/python bench/offer_search.py            # 1,000,000 offers: some 20 minutes on two cores
    .venv/bin/python bench/offer_search.py --smoke    # 3,000 offers, a few seconds: exit 1 on any failure

Prints the import time of the whole feed per database, the median and slowest time of each query, and the
p50/p95 latency (ms) of all the queries (each run ``--repeat`` times after one warm-up) for our search and for
the LIKE baseline; goal p95 <= 50 ms.
PostgreSQL: a database of its own on the server named by HOTLINE_TEST_POSTGRES (or var/test-postgres.url),
created and dropped by the run; skipped when no server answers, except with --smoke under CI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Select, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline.clock import utc_now  # noqa: E402
from hotline.db import create_engine  # noqa: E402
from hotline.db.migrate import upgrade  # noqa: E402
from hotline.offers.generator import write_feed  # noqa: E402
from hotline.offers.importer import import_file  # noqa: E402
from hotline.offers.models import JobOffer  # noqa: E402
from hotline.offers.places import load_places  # noqa: E402
from hotline.offers.search import OfferQuery, search_backend  # noqa: E402
from hotline.offers.text import words  # noqa: E402

# What consultants type while the caller speaks: words, inflected forms, no diacritics, filters.
QUERIES = [
    OfferQuery("spawacz"),
    OfferQuery("spawacza", powiat="2061"),
    OfferQuery("kierowcy", powiat="1465"),
    OfferQuery("kierowca ciągnika siodłowego"),
    OfferQuery("pielęgniarki", powiat="1261"),
    OfferQuery("pielegniarka"),
    OfferQuery("zlobek"),
    OfferQuery("opiekuna osoby starszej", powiat="0264"),
    OfferQuery("magazyniera", powiat="1465", working_time="full_time"),
    OfferQuery("magazynier wózek"),
    OfferQuery("kucharza Białymstoku"),
    OfferQuery("sprzedawcy", powiat="2469", working_time="part_time"),
    OfferQuery("kasjer", fresh_days=7),
    OfferQuery("elektryka", powiat="3064"),
    OfferQuery("mechanik pojazdów"),
    OfferQuery("programisty", scope="country", powiat="1465"),
    OfferQuery("spaw", powiat="1418"),
    OfferQuery("księgowej", powiat="1061"),
    OfferQuery("murarz", fresh_days=14),
    OfferQuery("", powiat="1418", working_time="full_time"),
]


@dataclass
class Figures:
    database: str
    offers: int
    import_seconds: float
    search_ms: list[float]
    like_ms: list[float]
    failures: list[str]


def like_statement(query: OfferQuery, today: object) -> Select[tuple[int]]:
    """The baseline: each typed word as ``LIKE '%word%'`` over occupation, employer and duties."""
    c = JobOffer.__table__.c
    statement = select(c.id).where(c.withdrawn_at.is_(None), c.valid_until >= today)
    for word in words(query.text):
        pattern = f"%{word.lower()}%"
        statement = statement.where(
            or_(
                func.lower(c.occupation_name).like(pattern),
                func.lower(c.employer_name).like(pattern),
                func.lower(c.duties).like(pattern),
            )
        )
    if query.powiat and query.scope != "country":
        area = [query.powiat, *sorted(load_places().neighbours(query.powiat))]
        statement = statement.where(or_(c.powiat.in_(area), c.voivodeship == query.powiat[:2]))
    if query.working_time:
        statement = statement.where(c.working_time == query.working_time)
    if query.fresh_days is not None:
        statement = statement.where(c.published_on >= today - timedelta(days=query.fresh_days))  # type: ignore[operator]
    tier = literal(0) if not query.powiat else (c.powiat != query.powiat)
    return statement.order_by(tier, c.published_on.desc()).limit(query.limit)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(name: str, url: str, feed: Path, offers: int, repeat: int) -> Figures:
    await asyncio.to_thread(upgrade, url)
    engine: AsyncEngine = create_engine(url)
    failures: list[str] = []
    try:
        started = time.perf_counter()
        summary = await import_file(engine, feed)
        import_seconds = time.perf_counter() - started
        print(f"  {name}: imported in {import_seconds:.1f} s — {summary.describe()}", flush=True)
        if summary.rejected:
            failures.append(f"{name}: {summary.rejected} lines rejected")
        if engine.dialect.name == "postgresql":
            # What autovacuum does after a bulk import (the test server runs without it): statistics for the
            # planner and the visibility map for index-only reads.
            async with engine.connect() as conn:
                await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
                    text("VACUUM ANALYZE")
                )
        today = utc_now().date()
        backend = search_backend(engine)
        search_ms: list[float] = []
        like_ms: list[float] = []
        for query in QUERIES:
            hits = await backend.search(query, today)  # warm-up
            if not hits:
                failures.append(f"{name}: nothing found for {query.text!r}")
            runs = []
            for _ in range(repeat):
                started = time.perf_counter()
                await backend.search(query, today)
                runs.append((time.perf_counter() - started) * 1000)
            search_ms.extend(runs)
            place = f" powiat={query.powiat} scope={query.scope}" if query.powiat else ""
            filters = f"{place} working_time={query.working_time} fresh_days={query.fresh_days}"
            print(
                f"    {statistics.median(runs):7.1f} ms median {max(runs):7.1f} max  {query.text!r}{filters}"
            )
            statement = like_statement(query, today)
            async with engine.connect() as conn:
                await conn.execute(statement)
                for _ in range(repeat):
                    started = time.perf_counter()
                    (await conn.execute(statement)).all()
                    like_ms.append((time.perf_counter() - started) * 1000)
        return Figures(name, offers, import_seconds, search_ms, like_ms, failures)
    finally:
        await engine.dispose()


async def _admin(admin_url: str, sql: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> list[Figures]:
    results: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="offer-bench-") as folder:
        feed = Path(folder) / "feed.jsonl"
        started = time.perf_counter()
        with feed.open("w", encoding="utf-8") as out:
            lines = write_feed(out, args.offers, trainings=0)
        print(f"feed: {lines} job offers generated in {time.perf_counter() - started:.1f} s", flush=True)
        sqlite_url = f"sqlite+aiosqlite:///{folder}/offers.sqlite3"
        results.append(await measure("SQLite FTS5", sqlite_url, feed, args.offers, args.repeat))
        admin = os.environ.get("HOTLINE_TEST_POSTGRES") or _postgres_from_file()
        if admin:
            name = f"offer_bench_{uuid.uuid4().hex[:10]}"
            try:
                await _admin(admin, f'CREATE DATABASE "{name}"')
            except Exception as exc:  # reported; the run goes on without PostgreSQL
                print(f"PostgreSQL skipped: {exc.__class__.__name__}: {exc}", flush=True)
                if args.smoke and os.environ.get("CI"):
                    raise
            else:
                try:
                    url = admin.rsplit("/", 1)[0] + f"/{name}"
                    results.append(await measure("PostgreSQL FTS", url, feed, args.offers, args.repeat))
                finally:
                    await _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


def _postgres_from_file() -> str | None:
    path = ROOT / "var" / "test-postgres.url"
    return path.read_text().strip() if path.exists() else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="3,000 offers, a few seconds")
    parser.add_argument("--offers", type=int, default=None, help="job offers to generate (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs of each query (default 10)")
    args = parser.parse_args()
    args.offers = args.offers or (3000 if args.smoke else 1_000_000)
    args.repeat = args.repeat or (2 if args.smoke else 10)
    results = asyncio.run(run(args))
    print()
    header = f"{'database':<16} {'offers':>10} {'import':>9}   {'search p50':>10} {'p95':>8}"
    print(f"{header}   {'LIKE p50':>9} {'p95':>8}")
    for r in results:
        print(
            f"{r.database:<16} {r.offers:>10,} {r.import_seconds:>8.1f}s   "
            f"{percentile(r.search_ms, 0.5):>8.1f}ms {percentile(r.search_ms, 0.95):>6.1f}ms   "
            f"{percentile(r.like_ms, 0.5):>7.1f}ms {percentile(r.like_ms, 0.95):>6.1f}ms"
        )
        print(f"{'':<16} search mean {statistics.mean(r.search_ms):.1f} ms over {len(r.search_ms)} runs")
    failures = [failure for r in results for failure in r.failures]
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
