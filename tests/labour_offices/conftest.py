"""The labour offices' directory on the session's database (SQLite or PostgreSQL, see tests/conftest.py).

A full import marks every office it does not name inactive, so each test starts from an empty directory
(no other test uses these tables)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.db.models import LabourOffice, LabourOfficeBranch, LabourOfficePowiat
from hotline.labour_offices import LabourOfficeDirectory

HEADER = "code,voivodeship,voivodeship_name,powiats,name,town,phone,phone_verified,branches"


def csv_lines(*rows: str) -> list[str]:
    """An import file: the header, then ``rows`` (the header is line 1, the first row line 2)."""
    return [HEADER, *rows]


@pytest.fixture(autouse=True)
async def empty_directory(db_sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    async with db_sessions() as db, db.begin():
        for table in (LabourOfficeBranch, LabourOfficePowiat, LabourOffice):
            await db.execute(delete(table))
    yield


@pytest.fixture
def directory(db_sessions: async_sessionmaker[AsyncSession]) -> LabourOfficeDirectory:
    return LabourOfficeDirectory(db_sessions)
