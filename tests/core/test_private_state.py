"""What the hotline keeps on disk and in Redis is private: the state folder 0700, the SQLite database 0600,
a process umask of 027, and a Redis password from the environment or the secrets file, never logged."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from hotline.db import create_engine
from hotline.live import LiveState
from hotline.settings import PRIVATE_UMASK, ensure_secrets, load_settings, masked_url


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> object:
    """The umask a login shell usually has (022), put back afterwards."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_the_state_folder_and_secrets_are_the_users_alone(tmp_path: Path, open_umask: object) -> None:
    state = tmp_path / "var"
    state.mkdir(mode=0o755)
    ensure_secrets(load_settings({"HOTLINE_STATE_DIR": str(state)}))
    assert mode(state) == 0o700
    assert mode(state / "secrets.toml") == 0o600


async def test_the_sqlite_database_is_created_private_and_made_private(
    tmp_path: Path, open_umask: object
) -> None:
    fresh = tmp_path / "fresh.sqlite3"
    old = tmp_path / "old.sqlite3"
    old.touch(mode=0o644)
    old.chmod(0o644)
    for path in (fresh, old):
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            async with engine.begin() as connection:
                await connection.execute(text("create table if not exists t (x integer)"))
                await connection.execute(text("insert into t values (1)"))
                # The write-ahead log and its index exist while a connection is open.
                siblings = [p for p in tmp_path.iterdir() if p.name.startswith(path.name)]
                assert {mode(p) for p in siblings} == {0o600}, [(p.name, oct(mode(p))) for p in siblings]
        finally:
            await engine.dispose()
        assert mode(path) == 0o600


def test_hotline_commands_keep_the_state_private(
    tmp_path: Path, open_umask: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from launcher.cli import main

    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    assert mode(tmp_path / "var") == 0o700
    assert mode(tmp_path / "var" / "hotline.sqlite3") == 0o600
    # Asterisk runs with it (launcher/runner.py); tests/e2e/test_privacy.py checks its files.
    assert PRIVATE_UMASK == 0o027


# --- Redis credentials ------------------------------------------------------------------------------------


def test_the_redis_password_comes_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings({"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_REDIS_PASSWORD": "s3cr/et@x"})
    assert settings.redis_url == "redis://:s3cr%2Fet%40x@127.0.0.1:6379/0"
    assert "s3cr" not in repr(settings)


def test_the_redis_password_comes_from_the_secrets_file_and_is_never_generated(tmp_path: Path) -> None:
    settings = ensure_secrets(load_settings({"HOTLINE_STATE_DIR": str(tmp_path)}))
    assert settings.redis_password == ""
    assert settings.redis_url == "redis://127.0.0.1:6379/0"  # a Redis we do not own may have no password

    # scripts/setup-system.sh adds the password of the Redis it starts itself.
    with (tmp_path / "secrets.toml").open("a") as fh:
        fh.write('redis_password = "generated-by-setup"\n')
    settings = ensure_secrets(load_settings({"HOTLINE_STATE_DIR": str(tmp_path)}))
    assert settings.redis_url == "redis://:generated-by-setup@127.0.0.1:6379/0"
    # Rewriting the file (a new secret added) keeps it.
    secrets_file = (tmp_path / "secrets.toml").read_text()
    (tmp_path / "secrets.toml").write_text(
        "\n".join(line for line in secrets_file.splitlines() if not line.startswith("ami_secret")) + "\n"
    )
    settings = ensure_secrets(load_settings({"HOTLINE_STATE_DIR": str(tmp_path)}))
    assert settings.ami_secret and "redis_password" in (tmp_path / "secrets.toml").read_text()
    assert settings.redis_password == "generated-by-setup"


def test_an_acl_user_in_the_url_gets_the_password_and_a_url_with_one_keeps_it(tmp_path: Path) -> None:
    env = {"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_REDIS_PASSWORD": "pw"}
    with_user = load_settings({**env, "HOTLINE_REDIS_URL": "redis://hotline@10.0.0.5:6380/2"})
    assert with_user.redis_url == "redis://hotline:pw@10.0.0.5:6380/2"
    with_password = load_settings({**env, "HOTLINE_REDIS_URL": "redis://:own@127.0.0.1:6379/0"})
    assert with_password.redis_url == "redis://:own@127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:secret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://hotline:secret@redis.local/1", "redis://hotline:***@redis.local/1"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        (
            "postgresql+asyncpg://hotline:pw@127.0.0.1:5432/hotline",
            "postgresql+asyncpg://hotline:***@127.0.0.1:5432/hotline",
        ),
    ],
)
def test_masked_url_hides_the_password(url: str, shown: str) -> None:
    assert masked_url(url) == shown


async def test_the_live_state_never_logs_the_redis_password(caplog: pytest.LogCaptureFixture) -> None:
    live = LiveState("redis://:very-secret-pw@127.0.0.1:1/0")
    caplog.set_level(logging.DEBUG)
    try:
        assert not await live.ping()
    finally:
        await live.close()
    assert caplog.records
    assert all("very-secret-pw" not in record.getMessage() for record in caplog.records)
    assert any("redis://:***@127.0.0.1:1/0" in record.getMessage() for record in caplog.records)
