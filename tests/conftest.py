"""Shared fixtures: a real database (SQLite or PostgreSQL, by HOTLINE_TEST_DATABASE), migrated with Alembic.

`make test` runs the suite twice: HOTLINE_TEST_DATABASE=sqlite, then =postgresql (127.0.0.1:5432, database
`test` reachable with trust auth; each run creates and drops a database of its own there).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hotline.db import create_engine, session_factory
from hotline.db.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "HOTLINE_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _database_kind() -> str:
    kind = os.environ.get("HOTLINE_TEST_DATABASE", "sqlite")
    if kind not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"HOTLINE_TEST_DATABASE must be sqlite or postgresql, not {kind!r}")
    return kind


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly migrated database for this test session."""
    if _database_kind() == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "hotline.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        yield url
        return
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"

    async def _admin(sql: str) -> None:
        engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def db_sessions(db_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(db_engine)
