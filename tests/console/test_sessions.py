"""Sign-out that signs out, accounts disabled and enabled, sessions that end when idle (issue 7,
finding 5)."""

from __future__ import annotations

import asyncio
import io
import logging
import uuid

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.security import COOKIE_NAME
from agent_console.users import UserError, create_user, main, set_active, set_password
from hotline.db import ConsoleUser
from hotline.settings import Settings
from tests.console.conftest import (
    PASSWORD,
    Account,
    Client,
    ClientFactory,
    FakeClock,
    csrf_token,
    sign_in,
    signed_in,
    without_redis,
)


async def _new_account(db_sessions: async_sessionmaker[AsyncSession]) -> Account:
    username = f"ses-{uuid.uuid4().hex[:10]}"
    await create_user(db_sessions, username, "Ktoś Na Zmianie", PASSWORD, "consultant")
    return Account(username=username, display_name="Ktoś Na Zmianie", role="consultant")


def _cookie(client: Client) -> str:
    return next(c.value for c in client.session.cookie_jar if c.key == COOKIE_NAME)


async def _with_cookie(make_client: ClientFactory, cookie: str, **kwargs: object) -> Client:
    """Another browser that carries a copy of the cookie."""
    other = await make_client(**kwargs)
    other.session.cookie_jar.update_cookies({COOKIE_NAME: cookie}, response_url=other.make_url("/"))
    return other


async def _sign_out(client: Client) -> None:
    token = await csrf_token(client, "/")
    response = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 303


async def test_a_cookie_copied_before_sign_out_is_dead_after_it(
    make_client: ClientFactory, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = await _new_account(db_sessions)
    client = await signed_in(await make_client(), account)
    copied = _cookie(client)
    thief = await _with_cookie(make_client, copied)
    assert (await thief.get("/", allow_redirects=False)).status == 200
    await _sign_out(client)
    response = await thief.get("/", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("/login")


async def test_sign_out_ends_the_users_other_sessions_and_not_others(
    make_client: ClientFactory, db_sessions: async_sessionmaker[AsyncSession], consultant: Account
) -> None:
    account = await _new_account(db_sessions)
    desk, laptop = await make_client(), await make_client()
    await signed_in(desk, account)
    await signed_in(laptop, account)
    colleague = await signed_in(await make_client(), consultant)
    await _sign_out(desk)
    assert (await laptop.get("/", allow_redirects=False)).status == 302
    assert (await colleague.get("/", allow_redirects=False)).status == 200
    # Signing in again works, and the new session is good.
    await signed_in(laptop, account)
    assert (await laptop.get("/", allow_redirects=False)).status == 200


async def test_sign_out_is_shared_by_console_processes(
    make_client: ClientFactory, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = await _new_account(db_sessions)
    first = await signed_in(await make_client(), account)
    on_second = await _with_cookie(make_client, _cookie(first))
    assert (await on_second.get("/", allow_redirects=False)).status == 200
    await _sign_out(first)
    assert (await on_second.get("/", allow_redirects=False)).status == 302


async def test_a_password_change_ends_a_copied_cookie(
    make_client: ClientFactory, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = await _new_account(db_sessions)
    client = await signed_in(await make_client(), account)
    thief = await _with_cookie(make_client, _cookie(client))
    await set_password(db_sessions, account.username, "a-brand-new-password")
    assert (await thief.get("/", allow_redirects=False)).status == 302
    assert (await client.get("/", allow_redirects=False)).status == 302


def _cli(settings: Settings, argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, settings=settings, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


async def _cli_async(settings: Settings, argv: list[str]) -> tuple[int, str, str]:
    """The command runs its own event loop: in a thread of its own, as it would in a process of its own."""
    return await asyncio.to_thread(_cli, settings, argv)


async def test_disable_and_enable_from_the_command_line(
    make_client: ClientFactory,
    console_settings: Settings,
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    account = await _new_account(db_sessions)
    client = await signed_in(await make_client(), account)
    copied = _cookie(client)

    status, out, err = await _cli_async(console_settings, ["disable", account.username])
    assert (status, err) == (0, "")
    assert out.strip() == f"Wyłączono konto {account.username}; jego sesje zakończono."
    async with db_sessions() as db:
        active = await db.scalar(select(ConsoleUser.active).where(ConsoleUser.username == account.username))
    assert active is False
    assert (await client.get("/", allow_redirects=False)).status == 302
    refused = await sign_in(await make_client(), account.username)
    assert "Nieprawidłowa nazwa użytkownika lub hasło." in await refused.text()

    status, out, err = await _cli_async(console_settings, ["enable", account.username])
    assert (status, err) == (0, "")
    assert out.strip() == f"Włączono konto {account.username}."
    # The session from before is not back; a new sign-in works.
    thief = await _with_cookie(make_client, copied)
    assert (await thief.get("/", allow_redirects=False)).status == 302
    again = await signed_in(await make_client(), account)
    assert (await again.get("/", allow_redirects=False)).status == 200


def test_disable_reports_an_unknown_account_in_polish(console_settings: Settings) -> None:
    status, out, err = _cli(console_settings, ["disable", "nobody-at-all"])
    assert status == 1 and out == ""
    assert err.strip() == "Błąd: Nie ma konta „nobody-at-all”."


async def test_set_active_refuses_an_unknown_account(db_sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(UserError, match="Nie ma konta"):
        await set_active(db_sessions, "nobody-at-all", active=False)


async def test_disable_without_redis_still_disables(
    make_client: ClientFactory,
    console_settings: Settings,
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    account = await _new_account(db_sessions)
    client = await signed_in(await make_client(), account)
    no_redis = without_redis(console_settings)
    status, out, err = await _cli_async(no_redis, ["disable", account.username])
    assert status == 0
    assert out.strip() == f"Wyłączono konto {account.username}; jego sesje zakończono."
    assert err.strip().startswith("Uwaga: Redis nie odpowiada")
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_an_idle_session_ends(
    make_client: ClientFactory, console_settings: Settings, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = await _new_account(db_sessions)
    clock = FakeClock()
    client = await make_client(console_settings.replace(console_idle_minutes=30), clock)
    await signed_in(client, account)
    # Activity keeps the session alive past the idle time…
    for _ in range(3):
        clock.advance(minutes=20)
        assert (await client.get("/", allow_redirects=False)).status == 200
    # …and 30 minutes without a request end it.
    clock.advance(minutes=31)
    response = await client.get("/calls/1", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login?next=/calls/1&m=expired"
    page = await (await client.get(response.headers["Location"])).text()
    assert "Sesja wygasła. Zaloguj się ponownie." in page
    assert 'name="next" value="/calls/1"' in page


async def test_a_copied_idle_cookie_stays_dead(
    make_client: ClientFactory, console_settings: Settings, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = await _new_account(db_sessions)
    clock = FakeClock()
    settings = console_settings.replace(console_idle_minutes=30)
    client = await signed_in(await make_client(settings, clock), account)
    copied = _cookie(client)
    clock.advance(minutes=31)
    thief = await _with_cookie(make_client, copied, settings=settings, clock=clock)
    assert (await thief.get("/", allow_redirects=False)).status == 302


async def test_a_session_never_outlives_the_shift(
    make_client: ClientFactory, console_settings: Settings, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = await _new_account(db_sessions)
    clock = FakeClock()
    client = await make_client(console_settings.replace(console_idle_minutes=600), clock)
    await signed_in(client, account)
    for _ in range(13):
        clock.advance(minutes=59)
        response = await client.get("/", allow_redirects=False)
    assert response.status == 302


async def test_without_redis_sign_in_and_sign_out_still_work(
    make_client: ClientFactory,
    console_settings: Settings,
    db_sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = await _new_account(db_sessions)
    no_redis = without_redis(console_settings)
    with caplog.at_level(logging.WARNING, logger="agent_console"):
        client = await signed_in(await make_client(no_redis), account)
        copied = _cookie(client)
        assert (await client.get("/", allow_redirects=False)).status == 200
        await _sign_out(client)
        assert (await client.get("/", allow_redirects=False)).status == 302
        # The console process that saw the sign-out refuses a copy of the old cookie.
        async with aiohttp.ClientSession(cookies={COOKIE_NAME: copied}) as thief:
            response = await thief.get(client.make_url("/"), allow_redirects=False)
            assert response.status == 302
    assert "Redis does not answer" in caplog.text
