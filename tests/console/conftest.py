"""Fixtures of the console tests: settings on the test database, two accounts, a signed-in client."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.app import create_app, start_console
from agent_console.keys import Clock
from agent_console.users import create_user
from hotline.clock import utc_now
from hotline.settings import Settings, free_ports

Client = TestClient[web.Request, web.Application]
PASSWORD = "zielona-linia-19524"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: str
    password: str = PASSWORD


class FakeClock:
    """A clock the test moves by hand (session idle time, sign-in delays)."""

    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def console_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        state_dir=tmp_path,
        database_url=database_url,
        console_session_key="test-console-session-key-" + "x" * 16,
        # The console's shared state (sign-in failures, session epochs) of this test only.
        redis_prefix=f"test-console-{uuid.uuid4().hex[:12]}",
    )


async def _account(sessions: async_sessionmaker[AsyncSession], role: str, display_name: str) -> Account:
    username = f"{role[:4]}-{uuid.uuid4().hex[:10]}"
    await create_user(sessions, username, display_name, PASSWORD, role)
    return Account(username=username, display_name=display_name, role=role)


@pytest.fixture(scope="session")
async def consultant(db_sessions: async_sessionmaker[AsyncSession]) -> Account:
    return await _account(db_sessions, "consultant", "Anna Konsultantka")


@pytest.fixture(scope="session")
async def supervisor(db_sessions: async_sessionmaker[AsyncSession]) -> Account:
    return await _account(db_sessions, "supervisor", "Jan Kierownik")


ClientFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
async def make_client(console_settings: Settings) -> AsyncIterator[ClientFactory]:
    """Start the console on a real socket; each call gives a client with its own cookie jar."""
    clients: list[Client] = []

    async def make(settings: Settings | None = None, clock: Clock | None = None) -> Client:
        app = create_app(settings or console_settings, clock=clock or utc_now)
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(make_client: ClientFactory) -> Client:
    return await make_client()


async def csrf_token(client: Client, path: str = "/login") -> str:
    response = await client.get(path)
    match = CSRF.search(await response.text())
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def sign_in(
    client: Client, username: str, password: str = PASSWORD, next_path: str = ""
) -> ClientResponse:
    token = await csrf_token(client)
    return await client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password, "next": next_path},
        allow_redirects=False,
    )


async def signed_in(client: Client, account: Account) -> Client:
    response = await sign_in(client, account.username, account.password)
    assert response.status == 303, await response.text()
    return client


@pytest.fixture
async def console_port(console_settings: Settings) -> AsyncIterator[int]:
    """The console served as in production (``start_console``), on a free port of its own."""
    settings = console_settings.replace(console_host="127.0.0.1", console_port=free_ports()["console_port"])
    runner = await start_console(settings)
    try:
        yield settings.console_port
    finally:
        await runner.cleanup()


@pytest.fixture
def console_url(console_port: int) -> str:
    return f"http://127.0.0.1:{console_port}"


def without_redis(settings: Settings) -> Settings:
    """The settings with a Redis URL at which nothing listens: the console as it is during a Redis outage."""
    return settings.replace(redis_url=f"redis://127.0.0.1:{free_ports()['console_port']}/0")
