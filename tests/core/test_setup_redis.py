"""The Redis that scripts/setup-system.sh starts itself (when none answers) has a generated password: kept in
the state folder's secrets.toml, where the hotline finds it, and never on its command line."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as redis
from redis.exceptions import AuthenticationError, ResponseError

from hotline.settings import PROJECT_ROOT, ensure_secrets, load_settings

SCRIPT = PROJECT_ROOT / "scripts" / "setup-system.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def started_redis(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    if os.geteuid() != 0 or shutil.which("redis-server") is None:
        pytest.skip("the script starts Redis as root, with redis-server installed")
    state, port = tmp_path / "var", free_port()
    env = {**os.environ, "HOTLINE_STATE_DIR": str(state), "HOTLINE_SETUP_REDIS_PORT": str(port)}
    result = subprocess.run(
        ["bash", str(SCRIPT), "run"], env=env, capture_output=True, text=True, timeout=120
    )
    pidfile = state / f"redis-{port}.pid"
    try:
        assert result.returncode == 0, result.stderr
        yield state, port
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)


def test_the_redis_started_for_make_run_has_a_generated_password(started_redis: tuple[Path, int]) -> None:
    state, port = started_redis
    settings = ensure_secrets(
        load_settings({"HOTLINE_STATE_DIR": str(state), "HOTLINE_REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    )
    assert len(settings.redis_password) >= 24
    assert stat.S_IMODE((state / "secrets.toml").stat().st_mode) == 0o600
    assert stat.S_IMODE((state / f"redis-{port}.conf").stat().st_mode) == 0o600
    pid = (state / f"redis-{port}.pid").read_text().strip()
    assert settings.redis_password not in Path(f"/proc/{pid}/cmdline").read_text()

    async def check() -> None:
        async with redis.from_url(f"redis://127.0.0.1:{port}/0") as anonymous:
            with pytest.raises((AuthenticationError, ResponseError), match=r"(?i)auth"):
                await anonymous.set("hotline:probe", "x")
        async with redis.from_url(settings.redis_url) as hotline:
            assert await hotline.ping()

    asyncio.run(check())


def test_a_second_run_keeps_the_password(started_redis: tuple[Path, int]) -> None:
    state, port = started_redis
    first = (state / "secrets.toml").read_text()
    env = {**os.environ, "HOTLINE_STATE_DIR": str(state), "HOTLINE_SETUP_REDIS_PORT": str(port)}
    subprocess.run(["bash", str(SCRIPT), "run"], env=env, check=True, capture_output=True, timeout=120)
    assert (state / "secrets.toml").read_text() == first
