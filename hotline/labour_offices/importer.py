"""``hotline offices import``: the import file into the directory, upserting by code.

A new code adds an office, a changed row updates it (its powiats and branches are replaced), an unchanged
row leaves it alone. A full import (the default) is the whole list: an active office whose code the file
does not name is marked inactive, never deleted; one that comes back is active again. An office whose row
was refused keeps its stored version (it is neither updated nor marked inactive), and a file without a single
good row marks nothing inactive. Everything is written in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from hotline.clock import utc_now
from hotline.db.models import LabourOffice, LabourOfficeBranch, LabourOfficePowiat
from hotline.labour_offices.records import ImportFileError, OfficeRecord, Refusal, parse_lines

log = logging.getLogger(__name__)

# The full list of about 340 offices is some 70 kB.
MAX_FILE_BYTES = 5_000_000


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return len(self.refusals)

    def describe(self) -> str:
        return (
            f"labour offices: added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"marked inactive {self.deactivated}, refused {self.refused}"
        )


def _apply(office: LabourOffice, record: OfficeRecord, now: datetime) -> None:
    office.code = record.code
    office.name = record.name
    office.voivodeship = record.voivodeship
    office.town = record.town
    office.phone = record.phone
    office.phone_verified = record.phone_verified
    office.active = True
    office.search_terms = record.search_terms
    office.content_hash = record.content_hash
    office.updated_at = now
    office.powiats = [
        LabourOfficePowiat(teryt=powiat.teryt, name=powiat.name, position=position)
        for position, powiat in enumerate(record.powiats)
    ]
    office.branches = [
        LabourOfficeBranch(town=branch.town, phone=branch.phone, position=position)
        for position, branch in enumerate(record.branches)
    ]


async def import_lines(
    sessions: async_sessionmaker[AsyncSession],
    lines: Iterable[str],
    *,
    full: bool = True,
    now: datetime | None = None,
) -> ImportReport:
    """Import the file's lines (numbered from 1). Raises :class:`ImportFileError` when the file has no usable
    header; then nothing is changed."""
    now = now or utc_now()
    parsed = parse_lines(lines)
    report = ImportReport(refusals=parsed.refusals)
    for refusal in parsed.refusals:
        log.warning("labour offices: %s refused", refusal)
    async with sessions() as db, db.begin():
        stored = {
            office.code: office
            for office in (
                await db.scalars(
                    select(LabourOffice).options(
                        selectinload(LabourOffice.powiats), selectinload(LabourOffice.branches)
                    )
                )
            ).all()
        }
        for _line, record in parsed.records:
            office = stored.get(record.code)
            if office is None:
                office = LabourOffice(imported_at=now)
                _apply(office, record, now)
                db.add(office)
                report.added += 1
            elif office.content_hash != record.content_hash or not office.active:
                _apply(office, record, now)
                report.updated += 1
            else:
                report.unchanged += 1
        if full and parsed.records:
            for code, office in stored.items():
                if office.active and code not in parsed.codes:
                    office.active = False
                    office.updated_at = now
                    report.deactivated += 1
    log.info("%s", report.describe())
    return report


async def import_file(
    sessions: async_sessionmaker[AsyncSession], path: Path, *, full: bool = True, now: datetime | None = None
) -> ImportReport:
    """Import a CSV file (UTF-8, a byte-order mark allowed). Raises :class:`ImportFileError` when it cannot
    be read as such."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImportFileError(
                f"{path}: larger than {MAX_FILE_BYTES // 1_000_000} MB, not a list of offices"
            )
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text (save it as CSV UTF-8): {exc.reason}") from exc
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror or exc}") from exc
    # Lines end at "\n" only, so the numbers in messages are those an editor shows.
    return await import_lines(sessions, text.split("\n"), full=full, now=now)


async def office_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    """How many offices the directory holds, active or not."""
    async with sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(LabourOffice)) or 0)
