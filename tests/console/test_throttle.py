"""Sign-in throttling per account and per address, and password hashing off the event loop (issue 7,
finding 4)."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from aiohttp import ClientResponse
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console import keys, security
from agent_console.throttle import ACCOUNT_POLICY, ADDRESS_POLICY
from agent_console.users import create_user
from hotline.settings import Settings
from tests.console.conftest import (
    PASSWORD,
    Account,
    Client,
    ClientFactory,
    FakeClock,
    csrf_token,
    sign_in,
    without_redis,
)

REFUSED = "Zbyt wiele nieudanych prób logowania."
WRONG = "Nieprawidłowa nazwa użytkownika lub hasło."


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The usernames' passwords checked, in order: an attempt refused by the throttle never gets here."""
    checked: list[str] = []
    real = security.check_password

    def counting(stored_hash: str | None, password: str) -> security.PasswordCheck:
        checked.append(password)
        return real(stored_hash, password)

    monkeypatch.setattr(security, "check_password", counting)
    yield checked


async def _new_account(db_sessions: async_sessionmaker[AsyncSession]) -> Account:
    username = f"thr-{uuid.uuid4().hex[:10]}"
    await create_user(db_sessions, username, "Ktoś Zapominalski", PASSWORD, "consultant")
    return Account(username=username, display_name="Ktoś Zapominalski", role="consultant")


async def _fail(client: Client, username: str, headers: dict[str, str] | None = None) -> ClientResponse:
    token = await csrf_token(client)
    return await client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": "wrong-password!", "next": ""},
        headers=headers,
        allow_redirects=False,
    )


async def test_failures_lock_the_account_without_checking_the_password(
    make_client: ClientFactory,
    db_sessions: async_sessionmaker[AsyncSession],
    password_checks: list[str],
) -> None:
    account = await _new_account(db_sessions)
    client = await make_client(clock=FakeClock())
    for _ in range(ACCOUNT_POLICY.free_failures):
        response = await _fail(client, account.username)
        assert response.status == 200
        assert WRONG in await response.text()
    assert len(password_checks) == ACCOUNT_POLICY.free_failures

    # Even the right password is not looked at now.
    response = await sign_in(client, account.username, PASSWORD)
    assert response.status == 429
    page = await response.text()
    assert REFUSED in page
    assert "Spróbuj ponownie za 1 s." in page
    assert response.headers["Retry-After"] == "1"
    assert len(password_checks) == ACCOUNT_POLICY.free_failures
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_the_delay_grows_and_the_right_password_works_after_it(
    make_client: ClientFactory,
    db_sessions: async_sessionmaker[AsyncSession],
    password_checks: list[str],
) -> None:
    account = await _new_account(db_sessions)
    clock = FakeClock()
    client = await make_client(clock=clock)
    for _ in range(ACCOUNT_POLICY.free_failures):
        await _fail(client, account.username)
    clock.advance(seconds=1)
    assert WRONG in await (await _fail(client, account.username)).text()
    refused = await sign_in(client, account.username, PASSWORD)
    assert refused.status == 429
    assert "Spróbuj ponownie za 2 s." in await refused.text()
    clock.advance(seconds=1)
    assert "Spróbuj ponownie za 1 s." in await (await sign_in(client, account.username, PASSWORD)).text()

    clock.advance(seconds=1)
    response = await sign_in(client, account.username, PASSWORD)
    assert response.status == 303
    assert (await client.get("/", allow_redirects=False)).status == 200
    # A sign-in that worked forgets the account's failures.
    other = await make_client(clock=clock)
    assert WRONG in await (await _fail(other, account.username)).text()


async def test_an_unknown_username_is_throttled_like_a_known_one(
    make_client: ClientFactory, password_checks: list[str]
) -> None:
    client = await make_client(clock=FakeClock())
    for _ in range(ACCOUNT_POLICY.free_failures):
        await _fail(client, "nobody-at-all")
    response = await _fail(client, "nobody-at-all")
    assert response.status == 429
    assert REFUSED in await response.text()
    assert len(password_checks) == ACCOUNT_POLICY.free_failures


async def test_one_address_is_throttled_across_accounts(
    make_client: ClientFactory,
    consultant: Account,
    password_checks: list[str],
) -> None:
    client = await make_client(clock=FakeClock())
    for number in range(ADDRESS_POLICY.free_failures):
        response = await _fail(client, f"guess-{number}")
        assert response.status == 200
    response = await sign_in(client, consultant.username, PASSWORD)
    assert response.status == 429
    assert REFUSED in await response.text()
    assert len(password_checks) == ADDRESS_POLICY.free_failures


async def test_a_trusted_proxy_tells_the_addresses_apart(
    make_client: ClientFactory,
    console_settings: Settings,
    consultant: Account,
) -> None:
    proxied = console_settings.replace(console_trusted_proxies="127.0.0.1, ::1")
    client = await make_client(proxied, FakeClock())
    attacker = {"X-Forwarded-For": "203.0.113.9"}
    for number in range(ADDRESS_POLICY.free_failures):
        await _fail(client, f"guess-{number}", attacker)
    assert (await _fail(client, "guess-more", attacker)).status == 429
    # A consultant behind the same proxy, from another address, signs in.
    token = await csrf_token(client)
    response = await client.post(
        "/login",
        data={"csrf_token": token, "username": consultant.username, "password": PASSWORD, "next": ""},
        headers={"X-Forwarded-For": "198.51.100.7"},
        allow_redirects=False,
    )
    assert response.status == 303


async def test_an_untrusted_forwarded_for_changes_nothing(make_client: ClientFactory) -> None:
    client = await make_client(clock=FakeClock())
    for number in range(ADDRESS_POLICY.free_failures):
        await _fail(client, f"guess-{number}", {"X-Forwarded-For": f"203.0.113.{number}"})
    response = await _fail(client, "guess-more", {"X-Forwarded-For": "198.51.100.7"})
    assert response.status == 429


async def test_parallel_guesses_get_no_more_checks_than_the_free_ones(
    make_client: ClientFactory,
    db_sessions: async_sessionmaker[AsyncSession],
    password_checks: list[str],
) -> None:
    account = await _new_account(db_sessions)
    clients = [await make_client(clock=FakeClock()) for _ in range(3)]
    attempts = [_fail(clients[n % 3], account.username) for n in range(3 * ACCOUNT_POLICY.free_failures)]
    statuses = sorted([response.status for response in await asyncio.gather(*attempts)])
    assert statuses.count(200) == ACCOUNT_POLICY.free_failures
    assert statuses.count(429) == 2 * ACCOUNT_POLICY.free_failures
    assert len(password_checks) == ACCOUNT_POLICY.free_failures


async def test_throttling_state_is_shared_by_console_processes(
    make_client: ClientFactory,
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    account = await _new_account(db_sessions)
    clock = FakeClock()
    first, second = await make_client(clock=clock), await make_client(clock=clock)
    for _ in range(ACCOUNT_POLICY.free_failures):
        await _fail(first, account.username)
    assert (await sign_in(second, account.username, PASSWORD)).status == 429


async def test_without_redis_each_process_throttles_on_its_own(
    make_client: ClientFactory,
    console_settings: Settings,
    db_sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = await _new_account(db_sessions)
    no_redis = without_redis(console_settings)
    clock = FakeClock()
    client = await make_client(no_redis, clock)
    with caplog.at_level(logging.WARNING, logger="agent_console"):
        assert (await sign_in(client, account.username, PASSWORD)).status == 303
        other = await make_client(no_redis, clock)
        for _ in range(ACCOUNT_POLICY.free_failures):
            assert (await _fail(other, account.username)).status == 200
        assert (await sign_in(other, account.username, PASSWORD)).status == 429
        clock.advance(seconds=1)
        assert (await sign_in(other, account.username, PASSWORD)).status == 303
    assert "Redis does not answer" in caplog.text


class _Gate:
    """A password check that holds its worker thread until the test opens the gate."""

    def __init__(self, real: Callable[[str | None, str], security.PasswordCheck]) -> None:
        self.real = real
        self.opened = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.threads: set[str] = set()

    def __call__(self, stored_hash: str | None, password: str) -> security.PasswordCheck:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.threads.add(threading.current_thread().name)
        # On the event loop this would block the very loop that must open the gate: the wait would run out.
        opened = self.opened.wait(timeout=30)
        with self.lock:
            self.running -= 1
        assert opened, "the gate was never opened: the check blocked the event loop"
        return self.real(stored_hash, password)


async def test_password_checks_run_off_the_loop_on_a_bounded_pool(
    make_client: ClientFactory,
    db_sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = _Gate(security.check_password)
    monkeypatch.setattr(security, "check_password", gate)
    accounts = [await _new_account(db_sessions) for _ in range(6)]
    client = await make_client(clock=FakeClock())
    workers = client.app[keys.PASSWORD_WORKERS]
    token = await csrf_token(client)
    sign_ins = [
        asyncio.ensure_future(
            client.post(
                "/login",
                data={"csrf_token": token, "username": account.username, "password": PASSWORD, "next": ""},
                allow_redirects=False,
            )
        )
        for account in accounts
    ]

    # Poll, by event-loop turns, until every sign-in waits for a worker and the workers are all busy.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    ticks = 0
    while not (workers.waiting == len(accounts) and gate.running == workers.threads):
        assert loop.time() < deadline, (workers.waiting, gate.running)
        await asyncio.sleep(0)
        ticks += 1
    # The loop keeps turning while every worker is busy hashing.
    for _ in range(1000):
        await asyncio.sleep(0)
        ticks += 1
    assert gate.running == workers.threads
    assert gate.peak == workers.threads < len(accounts)
    assert all(name.startswith("console-password") for name in gate.threads)
    gate.opened.set()
    responses = await asyncio.gather(*sign_ins)
    assert [response.status for response in responses] == [303] * len(accounts)
    assert gate.peak == workers.threads
    assert ticks > 1000


async def test_throttle_keys_expire(console_settings: Settings, make_client: ClientFactory) -> None:
    client = await make_client(clock=FakeClock())
    await _fail(client, "someone-forgetful")
    redis = Redis.from_url(console_settings.redis_url)
    try:
        found = [key async for key in redis.scan_iter(match=f"{console_settings.redis_prefix}:*")]
        assert found
        for key in found:
            assert 0 < await redis.ttl(key) <= 24 * 3600
    finally:
        await redis.aclose()
