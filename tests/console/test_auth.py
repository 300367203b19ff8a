"""Signing in and out, sessions, CSRF, malformed forms and the error pages."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.security import COOKIE_NAME
from agent_console.users import create_user, set_password
from hotline.db import ConsoleUser
from hotline.settings import Settings
from tests.console.conftest import (
    PASSWORD,
    Account,
    Client,
    ClientFactory,
    csrf_token,
    sign_in,
    signed_in,
)


async def test_sign_in_opens_the_home_page(client: Client, consultant: Account) -> None:
    response = await sign_in(client, consultant.username)
    assert response.status == 303
    assert response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert f"{COOKIE_NAME}=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie

    home = await client.get("/")
    assert home.status == 200
    page = await home.text()
    assert "Zalogowano jako Anna Konsultantka (konsultant)" in page
    assert "Panel kierownika" not in page
    assert home.headers["Cache-Control"] == "no-store"
    assert "script-src" not in home.headers["Content-Security-Policy"]


async def test_sign_in_goes_back_to_the_page_asked_for(client: Client, consultant: Account) -> None:
    first = await client.get("/calls/1", allow_redirects=False)
    assert first.status == 302
    assert first.headers["Location"] == "/login?next=/calls/1"
    page = await (await client.get(first.headers["Location"])).text()
    assert 'name="next" value="/calls/1"' in page
    response = await sign_in(client, consultant.username, next_path="/calls/1")
    assert response.headers["Location"] == "/calls/1"


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
async def test_sign_in_never_leaves_the_console(client: Client, consultant: Account, target: str) -> None:
    response = await sign_in(client, consultant.username, next_path=target)
    assert response.headers["Location"] == "/"


async def test_username_is_not_case_sensitive(client: Client, consultant: Account) -> None:
    response = await sign_in(client, consultant.username.upper())
    assert response.status == 303


@pytest.mark.parametrize("which", ["wrong password", "unknown user"])
async def test_bad_sign_in_is_refused_with_one_message(
    client: Client, consultant: Account, which: str, caplog: pytest.LogCaptureFixture
) -> None:
    username = consultant.username if which == "wrong password" else "nobody-here"
    password = "not-the-password" if which == "wrong password" else PASSWORD
    response = await sign_in(client, username, password)
    assert response.status == 200
    page = await response.text()
    assert "Nieprawidłowa nazwa użytkownika lub hasło." in page
    assert f'value="{username}"' in page
    assert "sign-in refused" in caplog.text
    home = await client.get("/", allow_redirects=False)
    assert home.status == 302


async def test_a_disabled_account_cannot_sign_in(
    client: Client, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    user = await create_user(db_sessions, "disabled-user", "Ktoś Wyłączony", PASSWORD, "consultant")
    async with db_sessions() as db, db.begin():
        await db.execute(update(ConsoleUser).where(ConsoleUser.id == user.id).values(active=False))
    response = await sign_in(client, "disabled-user")
    assert "Nieprawidłowa nazwa użytkownika lub hasło." in await response.text()


async def test_disabling_an_account_ends_its_session(
    client: Client, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    user = await create_user(db_sessions, "soon-disabled", "Ktoś Na Chwilę", PASSWORD, "consultant")
    await signed_in(client, Account(username="soon-disabled", display_name="", role="consultant"))
    assert (await client.get("/", allow_redirects=False)).status == 200
    async with db_sessions() as db, db.begin():
        await db.execute(update(ConsoleUser).where(ConsoleUser.id == user.id).values(active=False))
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_a_new_password_ends_every_session(
    client: Client, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    await create_user(db_sessions, "changes-password", "Ktoś Zmienia Hasło", PASSWORD, "consultant")
    await signed_in(client, Account(username="changes-password", display_name="", role="consultant"))
    assert (await client.get("/", allow_redirects=False)).status == 200
    await set_password(db_sessions, "changes-password", "a-brand-new-password")
    response = await client.get("/", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("/login")


async def test_an_old_hash_is_upgraded_at_sign_in(
    client: Client, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    user = await create_user(db_sessions, "old-hash", "Ktoś Ze Starym Hasłem", PASSWORD, "consultant")
    async with db_sessions() as db, db.begin():
        await db.execute(update(ConsoleUser).where(ConsoleUser.id == user.id).values(password_hash=weak))
    await signed_in(client, Account(username="old-hash", display_name="", role="consultant"))
    async with db_sessions() as db:
        stored = await db.scalar(select(ConsoleUser.password_hash).where(ConsoleUser.id == user.id))
    assert stored is not None and stored != weak
    assert not PasswordHasher().check_needs_rehash(stored)
    # The session made with the upgraded hash stays valid.
    assert (await client.get("/", allow_redirects=False)).status == 200


async def test_sign_out(client: Client, consultant: Account) -> None:
    await signed_in(client, consultant)
    token = await csrf_token(client, "/")
    response = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?m=logged_out"
    page = await (await client.get(response.headers["Location"])).text()
    assert "Wylogowano." in page
    after = await client.get("/", allow_redirects=False)
    assert after.status == 302


async def test_a_tampered_cookie_is_no_session(client: Client, consultant: Account) -> None:
    await signed_in(client, consultant)
    cookie = next(c for c in client.session.cookie_jar if c.key == COOKIE_NAME)
    payload, mac = cookie.value.split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE_NAME: forged}, response_url=client.make_url("/"))
    response = await client.get("/", allow_redirects=False)
    assert response.status == 302


async def test_a_cookie_signed_with_another_key_is_no_session(
    make_client: ClientFactory, console_settings: Settings, consultant: Account
) -> None:
    other = await make_client(console_settings.replace(console_session_key="another-key-" + "y" * 20))
    client = await make_client()
    await signed_in(client, consultant)
    cookie = next(c for c in client.session.cookie_jar if c.key == COOKIE_NAME)
    other.session.cookie_jar.update_cookies({COOKIE_NAME: cookie.value}, response_url=other.make_url("/"))
    assert (await other.get("/", allow_redirects=False)).status == 302


@pytest.mark.parametrize("token", ["", "forged-token"])
async def test_sign_in_without_the_csrf_token_is_refused(
    client: Client, consultant: Account, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    await csrf_token(client)
    data = {"username": consultant.username, "password": PASSWORD, "next": ""}
    if token:
        data["csrf_token"] = token
    response = await client.post("/login", data=data, allow_redirects=False)
    assert response.status == 403
    assert "Formularz wygasł lub nie pochodzi z tej konsoli." in await response.text()
    assert "CSRF token" in caplog.text
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_sign_out_without_the_csrf_token_is_refused(client: Client, consultant: Account) -> None:
    await signed_in(client, consultant)
    response = await client.post("/logout", data={"csrf_token": "forged"}, allow_redirects=False)
    assert response.status == 403
    assert (await client.get("/", allow_redirects=False)).status == 200


async def test_the_csrf_token_changes_at_sign_in(client: Client, consultant: Account) -> None:
    before = await csrf_token(client)
    await signed_in(client, consultant)
    after = await csrf_token(client, "/")
    assert before != after


async def _post_login(client: Client, body: bytes, content_type: str) -> tuple[int, str]:
    response = await client.post("/login", data=body, headers={"Content-Type": content_type})
    return response.status, await response.text()


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"username=a&next=", FORM, 400, "Brakuje pola „hasło” w formularzu."),
        (
            b"username=" + b"a" * 5000 + b"&password=x&next=",
            FORM,
            400,
            "Pole „nazwa użytkownika” jest za długie.",
        ),
        (b"username=%FF%FE&password=x&next=", FORM, 400, "Formularz zawiera nieprawidłowe znaki."),
        (b"username=\xff\xfe&password=x&next=", FORM, 400, "Formularz zawiera nieprawidłowe znaki."),
        (b"username=a%00b&password=x&next=", FORM, 400, "Formularz zawiera nieprawidłowe znaki."),
        (b"username=a&username=b&password=x&next=", FORM, 400, "występuje w formularzu więcej niż raz"),
        (b"&".join(b"f%d=1" % i for i in range(40)), FORM, 400, "Formularz ma za dużo pól."),
        (b'{"username": "a"}', "application/json", 400, "Nieobsługiwany rodzaj formularza."),
        (b"username=" + b"a" * 100_000, FORM, 413, "Przesłane dane są za duże."),
    ],
    ids=["missing", "huge", "bad-percent-utf8", "raw-bytes", "nul", "duplicate", "many", "json", "too-big"],
)
async def test_a_malformed_form_gets_a_clear_page_and_a_log_line(
    client: Client,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    status: int,
    message: str,
) -> None:
    token = (await csrf_token(client)).encode()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="agent_console"):
        got_status, page = await _post_login(client, b"csrf_token=" + token + b"&" + body, content_type)
    assert got_status == status
    assert message in page
    assert "Traceback" not in page
    assert "<!doctype html>" in page
    assert any(r.name.startswith("agent_console") for r in caplog.records)


async def test_an_unknown_page_is_a_polish_404(client: Client, consultant: Account) -> None:
    await signed_in(client, consultant)
    response = await client.get("/no-such-page")
    assert response.status == 404
    assert "Nie ma takiej strony." in await response.text()


async def test_a_wrong_method_is_a_polish_405(client: Client) -> None:
    token = await csrf_token(client)
    response = await client.post("/healthz", data={"csrf_token": token})
    assert response.status == 405
    assert "Ta strona nie obsługuje takiego żądania." in await response.text()
    assert "GET" in response.headers["Allow"]


async def test_a_failure_is_a_polish_500_without_traceback(
    make_client: ClientFactory, console_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A database without tables: the user lookup fails inside the view.
    empty = console_settings.replace(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}")
    client = await make_client(empty)
    token = await csrf_token(client)
    response = await client.post(
        "/login", data={"csrf_token": token, "username": "someone", "password": "x", "next": ""}
    )
    assert response.status == 500
    page = await response.text()
    assert "Wystąpił błąd po stronie systemu." in page
    assert "Numer zgłoszenia błędu:" in page
    assert "Traceback" not in page and "OperationalError" not in page
    assert "POST /login failed, reference" in caplog.text
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)


async def test_healthz_is_public_json(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok"}


async def test_healthz_reports_an_unreachable_database(
    make_client: ClientFactory, console_settings: Settings, tmp_path: Path
) -> None:
    # A PostgreSQL server that is not there: a loopback port that nothing listens on.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    broken = console_settings.replace(database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none")
    client = await make_client(broken)
    response = await client.get("/healthz")
    assert response.status == 503
    assert await response.json() == {"status": "error", "database": "error"}
