"""``hotline purge`` and ``hotline caller export|erase NUMBER``: thin commands over
:mod:`hotline.personal_data`, on the test database."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotline.db import Call, create_engine, session_factory
from launcher.cli import main
from tests.console.helpers import add_call, add_callback, unique_mobile


@pytest.fixture
def hotline_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTLINE_REDIS_PREFIX", f"hotline-cli-{uuid.uuid4().hex[:8]}")
    # The purge runs on the real clock: with retentions this long it touches only calls from before 2016,
    # never another test's.
    for kind in ("CALL", "STEP", "CALLBACK"):
        monkeypatch.setenv(f"HOTLINE_{kind}_RETENTION_DAYS", "4000")
    return database_url


def stored_call(database_url: str, number: str) -> tuple[int, int]:
    """A call from ``number`` and a call-back request for it; their ids."""

    async def add() -> tuple[int, int]:
        engine = create_engine(database_url)
        try:
            sessions = session_factory(engine)
            call = await add_call(sessions, datetime(2012, 4, 1, 9, tzinfo=UTC), caller_number=number)
            request = await add_callback(sessions, number, call.started_at, call_id=call.id)
            return call.id, request.id
        finally:
            await engine.dispose()

    return asyncio.run(add())


def caller_number_of(database_url: str, call_id: int) -> str | None:
    async def read() -> str | None:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as db:
                call = await db.get(Call, call_id)
                assert call is not None
                return call.caller_number
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_caller_export_prints_json_and_erase_removes_the_number(
    hotline_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    number = unique_mobile()
    call_id, request_id = stored_call(hotline_env, number)
    typed = "0048 " + number[3:]

    assert main(["caller", "export", typed]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert [call["id"] for call in exported["calls"]] == [call_id]
    assert [request["id"] for request in exported["callback_requests"]] == [request_id]

    code = main(["caller", "erase", typed])
    out = capsys.readouterr().out
    assert "calls anonymised: 1, call-back requests deleted: 1" in out
    assert code in (0, 1)  # 1 only when Redis does not answer (said on stderr)
    assert caller_number_of(hotline_env, call_id) is None
    assert main(["caller", "export", number]) == 0
    assert json.loads(capsys.readouterr().out)["calls"] == []


def test_caller_refuses_what_is_not_a_number(hotline_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["caller", "export", "nobody"]) == 2
    assert "not a phone number" in capsys.readouterr().err


def test_purge_reports_what_it_did(hotline_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    number = unique_mobile()
    call_id, _ = stored_call(hotline_env, number)
    main(["purge"])
    out = capsys.readouterr().out
    assert "calls anonymised:" in out
    # No Asterisk runs here: its logs are not rotated, and the purge says so and goes on.
    assert "Asterisk's logs not rotated (Asterisk does not answer); rotated logs deleted: 0" in out
    # The call is from 2012: past the retention.
    assert caller_number_of(hotline_env, call_id) is None
