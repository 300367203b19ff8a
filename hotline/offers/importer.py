"""``hotline offers import FILE``: the feed into the database, idempotently.

New offers are inserted, changed ones updated, unchanged ones left alone. The feed of an office is the full
list of its offers, so an offer of an office present in the file but missing from it is withdrawn
(``withdrawn_reason = missing``); an offer whose ``valid_until`` has passed is withdrawn as ``expired``. A
withdrawn offer that comes back is offered again. Nothing is deleted. A bad line is rejected with its number
and reason, the good ones around it are imported; a rejected line whose id could be read keeps the stored
version of that offer as it was (it is not withdrawn as missing).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.clock import utc_now
from hotline.offers.feed import BadRecord, OfferRecord, Record, parse_line
from hotline.offers.models import JobOffer, TrainingOffer
from hotline.offers.places import load_places
from hotline.offers.text import index_terms

log = logging.getLogger(__name__)

BATCH = 2000
# Bound parameters per statement stay well under SQLite's limit (32766) and PostgreSQL's (65535).
ID_CHUNK = 5000
TABLES: dict[str, Table] = {
    "job_offer": JobOffer.__table__,  # type: ignore[dict-item]
    "training": TrainingOffer.__table__,  # type: ignore[dict-item]
}


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str
    source_id: str | None


@dataclass
class ImportSummary:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    rejected: int = 0
    skipped_expired: int = 0
    lines: int = 0
    seconds: float = 0.0
    rejections: list[Rejection] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.lines} lines in {self.seconds:.1f} s: inserted {self.inserted}, updated {self.updated}, "
            f"withdrawn {self.withdrawn}, rejected {self.rejected} "
            f"(unchanged {self.unchanged}, already expired and not stored {self.skipped_expired})"
        )


class Progress:
    """A one-line progress bar on a terminal; nothing at all when the stream is not one."""

    def __init__(self, total_bytes: int, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() and total_bytes > 0
        self.total = total_bytes
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, done_bytes: int, lines: int, *, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self._last < 0.2:
            return
        self._last = now
        share = min(1.0, done_bytes / self.total)
        width = 30
        bar = "#" * int(share * width) + "-" * (width - int(share * width))
        rate = lines / max(now - self.started, 1e-6)
        self.stream.write(f"\r[{bar}] {share:6.1%}  {lines:>10,} lines  {rate:>8,.0f}/s")
        if final:
            self.stream.write("\n")
        self.stream.flush()


def _terms(record: Record, today: date) -> dict[str, str]:
    powiat = load_places().powiat(record.place.powiat)
    place = f"{record.place.town} {powiat.name if powiat else ''}"
    facets = f"p{record.place.powiat} v{record.place.voivodeship}"
    if isinstance(record, OfferRecord):
        occupation = f"{record.occupation_name} {record.position or ''}"
        return {
            "terms_occupation": f"{index_terms(occupation)} {record.occupation_code}",
            "terms_employer": index_terms(record.employer_name),
            "terms_body": index_terms(f"{record.duties} {record.requirements}"),
            "terms_place": index_terms(place),
            "terms_facets": f"{facets} t{record.working_time.replace('_', '')}",
        }
    occupation = f"{record.topic} {record.occupation_name or ''}"
    return {
        "terms_occupation": f"{index_terms(occupation)} {record.occupation_code or ''}".strip(),
        "terms_employer": index_terms(record.organiser),
        "terms_body": index_terms(f"{record.description} {record.eligibility}"),
        "terms_place": index_terms(place),
        "terms_facets": facets,
    }


def _row(record: Record, today: date, now: datetime) -> dict[str, Any]:
    common: dict[str, Any] = {
        "source_id": record.source_id,
        "content_hash": record.content_hash,
        "office_id": record.office_id,
        "office_name": record.office_name,
        "voivodeship": record.place.voivodeship,
        "powiat": record.place.powiat,
        "town": record.place.town,
        "town_simc": record.place.town_simc,
        "published_on": record.published,
        "valid_until": record.valid_until,
        "how_to_apply": record.how_to_apply,
        "updated_at": now,
        **_terms(record, today),
    }
    if isinstance(record, OfferRecord):
        return {
            **common,
            "occupation_code": record.occupation_code,
            "occupation_name": record.occupation_name,
            "position": record.position,
            "employer_name": record.employer_name,
            "employer_nip": record.employer_nip,
            "working_time": record.working_time,
            "shifts": record.shifts,
            "contract": record.contract,
            "pay_min": record.pay_min,
            "pay_max": record.pay_max,
            "pay_unit": record.pay_unit,
            "vacancies": record.vacancies,
            "duties": record.duties,
            "requirements": record.requirements,
        }
    return {
        **common,
        "topic": record.topic,
        "occupation_code": record.occupation_code,
        "occupation_name": record.occupation_name,
        "organiser": record.organiser,
        "starts_on": record.starts,
        "ends_on": record.ends,
        "hours": record.hours,
        "cost": record.cost,
        "eligibility": record.eligibility,
        "description": record.description,
    }


def _kind(record: Record) -> str:
    return "job_offer" if isinstance(record, OfferRecord) else "training"


def _chunks(items: list[Any], size: int = ID_CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class FeedImporter:
    """One import run; feed it lines with :meth:`add`, then :meth:`finish`."""

    def __init__(self, engine: AsyncEngine, *, today: date, now: datetime) -> None:
        self.engine = engine
        self.today = today
        self.now = now
        self.summary = ImportSummary()
        # Per kind: every id the file mentions (good lines, and bad lines whose id could be read) → line.
        self.seen: dict[str, dict[str, int]] = {"job_offer": {}, "training": {}}
        self.offices: dict[str, set[str]] = {"job_offer": set(), "training": set()}
        self.pending: dict[str, list[tuple[int, Record]]] = {"job_offer": [], "training": []}

    def reject(self, line: int, reason: str, source_id: str | None) -> None:
        self.summary.rejected += 1
        self.summary.rejections.append(Rejection(line, reason, source_id))
        log.warning("feed line %d rejected%s: %s", line, f" (id {source_id})" if source_id else "", reason)

    async def add(self, number: int, line: str | bytes) -> None:
        self.summary.lines += 1
        if not line.strip():
            self.summary.lines -= 1
            return
        try:
            record = parse_line(line)
        except BadRecord as exc:
            if exc.source_id and exc.kind:
                self.seen[exc.kind].setdefault(exc.source_id, number)
            self.reject(number, exc.reason, exc.source_id)
            return
        kind = _kind(record)
        first = self.seen[kind].get(record.source_id)
        if first is not None:
            self.reject(
                number, f"id {record.source_id} appears twice in the feed (first on line {first})", None
            )
            return
        self.seen[kind][record.source_id] = number
        self.offices[kind].add(record.office_id)
        self.pending[kind].append((number, record))
        if len(self.pending[kind]) >= BATCH:
            await self._flush(kind)

    async def _flush(self, kind: str) -> None:
        batch, self.pending[kind] = self.pending[kind], []
        if not batch:
            return
        table = TABLES[kind]
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        withdrawals: list[dict[str, Any]] = []
        async with self.engine.begin() as conn:
            existing = {
                row.source_id: row
                for row in await conn.execute(
                    select(
                        table.c.id,
                        table.c.source_id,
                        table.c.content_hash,
                        table.c.withdrawn_at,
                        table.c.withdrawn_reason,
                    ).where(table.c.source_id.in_([record.source_id for _, record in batch]))
                )
            }
            for _number, record in batch:
                expired = record.valid_until < self.today
                stored = existing.get(record.source_id)
                if stored is None:
                    if expired:
                        self.summary.skipped_expired += 1
                        continue
                    inserts.append({**_row(record, self.today, self.now), "imported_at": self.now})
                    self.summary.inserted += 1
                elif stored.content_hash != record.content_hash:
                    row = _row(record, self.today, self.now)
                    row["withdrawn_at"] = self.now if expired else None
                    row["withdrawn_reason"] = "expired" if expired else None
                    updates.append({**row, "_id": stored.id})
                    if expired and stored.withdrawn_at is None:
                        self.summary.withdrawn += 1
                    else:
                        self.summary.updated += 1
                elif expired and stored.withdrawn_at is None:
                    withdrawals.append({"_id": stored.id, "_reason": "expired"})
                    self.summary.withdrawn += 1
                elif not expired and stored.withdrawn_at is not None:
                    withdrawals.append({"_id": stored.id, "_reason": None})
                    self.summary.updated += 1
                else:
                    self.summary.unchanged += 1
            if inserts:
                await conn.execute(insert(table), inserts)
            if updates:
                columns: dict[str, Any] = {name: bindparam(name) for name in updates[0] if name != "_id"}
                await conn.execute(
                    update(table).where(table.c.id == bindparam("_id")).values(columns), updates
                )
            if withdrawals:
                await self._set_withdrawn(conn, table, withdrawals)

    async def _set_withdrawn(self, conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
        params = [
            {"_id": row["_id"], "_at": self.now if row["_reason"] else None, "_reason": row["_reason"]}
            for row in rows
        ]
        statement = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values(withdrawn_at=bindparam("_at"), withdrawn_reason=bindparam("_reason"), updated_at=self.now)
        )
        await conn.execute(statement, params)

    async def finish(self) -> ImportSummary:
        for kind in self.pending:
            await self._flush(kind)
        for kind, table in TABLES.items():
            await self._withdraw_missing(kind, table)
            await self._withdraw_expired(table)
        return self.summary

    async def _withdraw_missing(self, kind: str, table: Table) -> None:
        offices = sorted(self.offices[kind])
        if not offices:
            return
        seen = self.seen[kind]
        async with self.engine.begin() as conn:
            missing: list[int] = []
            for chunk in _chunks(offices):
                result = await conn.execute(
                    select(table.c.id, table.c.source_id).where(
                        table.c.office_id.in_(chunk), table.c.withdrawn_at.is_(None)
                    )
                )
                missing.extend(row.id for row in result if row.source_id not in seen)
            if missing:
                await self._set_withdrawn(conn, table, [{"_id": i, "_reason": "missing"} for i in missing])
            self.summary.withdrawn += len(missing)

    async def _withdraw_expired(self, table: Table) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(table)
                .where(table.c.withdrawn_at.is_(None), table.c.valid_until < self.today)
                .values(withdrawn_at=self.now, withdrawn_reason="expired", updated_at=self.now)
            )
            self.summary.withdrawn += result.rowcount


async def import_lines(
    engine: AsyncEngine,
    lines: Iterable[str | bytes],
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> ImportSummary:
    """Import feed lines (the tests' entry); numbering starts at 1."""
    now = now or utc_now()
    importer = FeedImporter(engine, today=today or now.date(), now=now)
    started = time.monotonic()
    for number, line in enumerate(lines, start=1):
        await importer.add(number, line)
    summary = await importer.finish()
    summary.seconds = time.monotonic() - started
    return summary


async def import_file(
    engine: AsyncEngine,
    path: Path,
    *,
    today: date | None = None,
    now: datetime | None = None,
    progress_stream: IO[str] | None = None,
) -> ImportSummary:
    """Import a feed file, with a progress bar when ``progress_stream`` (default stderr) is a terminal."""
    now = now or utc_now()
    importer = FeedImporter(engine, today=today or now.date(), now=now)
    progress = Progress(path.stat().st_size, progress_stream)
    started = time.monotonic()
    done = 0
    with path.open("rb") as feed:
        for number, line in enumerate(feed, start=1):
            done += len(line)
            await importer.add(number, line)
            if number % 1000 == 0:
                progress.update(done, number)
    summary = await importer.finish()
    progress.update(done, summary.lines, final=True)
    summary.seconds = time.monotonic() - started
    log.info("offer feed %s imported: %s", path, summary.describe())
    return summary
