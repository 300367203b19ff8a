"""``hotline recordings purge``, ``hotline purge`` and ``hotline caller erase`` on recordings: thin commands
over :mod:`hotline.recordings`, on the test database and a recordings folder of the test's own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from hotline.db import create_engine, session_factory
from hotline.recordings import Recordings
from launcher.cli import main
from tests.console.helpers import unique_mobile
from tests.core.test_recordings import Sessions, add_call, record, row_of

T = TypeVar("T")
# Recordings from 2000: with a retention of 9,000 days (the real clock: about 2001) the purge touches no
# other test's recordings.
DAY = datetime(2000, 3, 1, 10, tzinfo=UTC)


@pytest.fixture
def folder(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTLINE_REDIS_PREFIX", f"hotline-cli-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", str(tmp_path / "recordings"))
    for kind in ("CALL", "STEP", "CALLBACK", "RECORDING"):
        monkeypatch.setenv(f"HOTLINE_{kind}_RETENTION_DAYS", "9000")
    return tmp_path / "recordings"


def on_database(database_url: str, work: Callable[[Sessions], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(database_url)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def recorded(database_url: str, folder: Path, number: str | None = None) -> str:
    async def work(sessions: Sessions) -> str:
        return await record(Recordings(sessions, folder), await add_call(sessions, DAY, number), DAY)

    return on_database(database_url, work)


def deleted_reason(database_url: str, file: str) -> str | None:
    async def work(sessions: Sessions) -> str | None:
        return (await row_of(sessions, file)).deleted_reason

    return on_database(database_url, work)


@pytest.mark.parametrize("command", [["recordings", "purge"], ["purge"]])
def test_the_purge_commands_delete_recordings_past_their_retention(
    command: list[str], folder: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    file = recorded(database_url, folder)
    assert (folder / file.removeprefix("recordings/")).exists()
    code = main(command)
    assert "recordings deleted: 1 " in capsys.readouterr().out
    assert code in (0, 1)  # `hotline purge`: 1 only when Redis does not answer (said on stderr)
    assert not (folder / file.removeprefix("recordings/")).exists()
    assert deleted_reason(database_url, file) == "retention"


def test_caller_erase_deletes_the_callers_recordings(
    folder: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    number = unique_mobile()
    file = recorded(database_url, folder, number)
    code = main(["caller", "erase", number])
    assert "recordings deleted: 1" in capsys.readouterr().out
    assert code in (0, 1)
    assert not (folder / file.removeprefix("recordings/")).exists()
    assert deleted_reason(database_url, file) == "erased"
