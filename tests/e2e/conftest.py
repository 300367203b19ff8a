"""The real hotline for end-to-end tests: Asterisk 22 from the sandbox, our FastAGI server, the AMI listener.

One instance per test session, on free ports of its own (so a running `make run` is never disturbed), with
the session's database (SQLite or PostgreSQL, see tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from devtools.sandbox import instance_paths
from hotline.callbacks import ACTIVE
from hotline.db import CallbackRequest, create_engine, session_factory
from hotline.settings import free_ports, load_settings
from launcher.runner import Hotline

T = TypeVar("T")

WARSAW = ZoneInfo("Europe/Warsaw")
# A working Wednesday, 10:00 in Warsaw: consultants are in.
WORKING_DAY = datetime(2026, 12, 2, 10, 0, tzinfo=WARSAW)


class TestClock:
    """The IVR's clock in end-to-end tests: pinned, and moved by tests that need other hours."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@contextlib.asynccontextmanager
async def running_hotline(
    database_url: str, state_dir: Path, name: str, **settings: Any
) -> AsyncIterator[Hotline]:
    """A hotline of its own (Asterisk instance ``<name>-<pid>`` on free ports, no console) on the working day;
    at the end, every call it took must have gone through without Asterisk logging an error. ``settings``
    may name ports too (a test that must know them before the start)."""
    if os.geteuid() != 0:
        pytest.skip("the Asterisk sandbox runs under chroot, which needs root")
    rtp_start = random.randrange(20000, 29000, 2)
    values: dict[str, Any] = {
        **free_ports(),
        "rtp_start": rtp_start,
        "rtp_end": rtp_start + 200,
        "redis_prefix": f"hotline-{name}-{os.getpid()}",
        **settings,
    }
    hotline = Hotline(
        load_settings(
            state_dir=state_dir,
            database_url=database_url,
            asterisk_instance=f"{name}-{os.getpid()}",
            **values,
        ),
        with_console=False,
        tools_ami=True,
        clock=TestClock(WORKING_DAY),
    )
    try:
        await cancel_callbacks_of_other_tests(database_url)
        await hotline.start()
        yield hotline
        assert hotline.asterisk is not None
        assert hotline.asterisk.error_lines() == []
    finally:
        if hotline.live is not None:
            await hotline.live.clear()
        await hotline.stop()
        folder: Path = instance_paths(hotline.settings).host()
        if folder.is_dir() and not os.environ.get("HOTLINE_KEEP_TEST_INSTANCE"):
            shutil.rmtree(folder, ignore_errors=True)


async def cancel_callbacks_of_other_tests(database_url: str) -> None:
    """The session's database is shared: call-back requests other tests left active (the IVR's after-hours
    ones, a unit test's) would be called back by this hotline's dialler, at its consultants. Each hotline
    under test starts with none."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(
                update(CallbackRequest)
                .where(CallbackRequest.status.in_(ACTIVE))
                .values(status="cancelled", pending_key=None)
            )
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def hotline(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hotline]:
    async with running_hotline(database_url, tmp_path_factory.mktemp("state"), "test") as hotline:
        yield hotline


@pytest.fixture
def clock(hotline: Hotline) -> Iterator[TestClock]:
    """The running hotline's clock; put back to the working day after each test."""
    assert isinstance(hotline.clock, TestClock)
    yield hotline.clock
    hotline.clock.at = WORKING_DAY


async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds (a deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what or check}")
        await asyncio.sleep(0.05)
