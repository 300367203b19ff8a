"""Engines and sessions by URL: ``sqlite+aiosqlite:///…`` (embedded default) or ``postgresql+asyncpg://…``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    # Error messages never carry the statement's parameters: they are callers' phone numbers.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:":
            private_sqlite_file(Path(path))
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets the AGI server, the AMI listener and the console write and read side by side.
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits only.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite database file readable by its owner only (0600), or make an existing one so; SQLite
    gives its write-ahead log and index the database file's own mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(0o600)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def insert_for(dialect: str) -> Callable[[Any], postgresql.Insert | sqlite.Insert]:
    """The dialect's own ``insert`` (the one with ``on_conflict_do_nothing``): PostgreSQL's or SQLite's."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert
