"""Fixtures of the core's tests: the call recorder on the test database, the live state on the real Redis, a
socket peer playing Asterisk's AMI."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.call_recorder import CallRecorder
from hotline.live import LiveState
from tests.core.ami_peer import FakeAmi

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def recorder(db_engine: AsyncEngine) -> AsyncIterator[CallRecorder]:
    recorder = CallRecorder(db_engine)
    recorder.start()
    yield recorder
    await recorder.close()


@pytest.fixture
async def live() -> AsyncIterator[LiveState]:
    """The live state under a prefix of its own (removed after the test)."""
    live = LiveState(REDIS_URL, prefix=f"hotline-test-{uuid.uuid4().hex[:8]}")
    if not await live.ping():
        pytest.skip("Redis does not answer at " + REDIS_URL)
    live.start()
    yield live
    await live.clear()
    await live.close()


@pytest.fixture
async def fake_ami() -> AsyncIterator[tuple[FakeAmi, int]]:
    """The peer and its port on 127.0.0.1."""
    peer = FakeAmi()
    server = await asyncio.start_server(peer.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield peer, port
    server.close()
    for writer in peer.writers:
        writer.close()
