"""Console accounts: validation, passwords, and the ``hotline user`` command."""

from __future__ import annotations

import io
import uuid

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.texts import load_texts
from agent_console.users import UserError, create_user, main, read_password, set_password
from hotline.db import ConsoleUser
from tests.console.conftest import PASSWORD


def fresh_name() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


async def test_create_user_stores_an_argon2_hash(db_sessions: async_sessionmaker[AsyncSession]) -> None:
    name = fresh_name()
    user = await create_user(db_sessions, name, "  Ewa Nowak  ", PASSWORD, "supervisor")
    async with db_sessions() as db:
        stored = await db.scalar(select(ConsoleUser).where(ConsoleUser.username == name))
    assert stored is not None and stored.id == user.id
    assert stored.display_name == "Ewa Nowak"
    assert stored.role == "supervisor" and stored.active
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert PasswordHasher().verify(stored.password_hash, PASSWORD)


@pytest.mark.parametrize(
    ("username", "display_name", "password", "role", "message"),
    [
        ("valid-name", "Ewa", PASSWORD, "admin", "Nieznana rola „admin”"),
        ("Ewa", "Ewa", PASSWORD, "consultant", "Nazwa użytkownika musi mieć"),
        ("ab", "Ewa", PASSWORD, "consultant", "Nazwa użytkownika musi mieć"),
        ("ewa nowak", "Ewa", PASSWORD, "consultant", "Nazwa użytkownika musi mieć"),
        ("1ewa", "Ewa", PASSWORD, "consultant", "Nazwa użytkownika musi mieć"),
        ("e" * 65, "Ewa", PASSWORD, "consultant", "Nazwa użytkownika musi mieć"),
        ("valid-name", "   ", PASSWORD, "consultant", "Imię i nazwisko"),
        ("valid-name", "Ewa\x1b[31m", PASSWORD, "consultant", "Imię i nazwisko"),
        ("valid-name", "Ewa", "short-pass", "consultant", "co najmniej 12 znaków"),
        ("valid-name", "Ewa", "x" * 1025, "consultant", "najwyżej 1024 znaków"),
    ],
)
async def test_create_user_refuses_bad_values(
    db_sessions: async_sessionmaker[AsyncSession],
    username: str,
    display_name: str,
    password: str,
    role: str,
    message: str,
) -> None:
    with pytest.raises(UserError) as refused:
        await create_user(db_sessions, username, display_name, password, role)
    assert message in refused.value.message
    async with db_sessions() as db:
        assert await db.scalar(select(ConsoleUser).where(ConsoleUser.username == username)) is None


async def test_a_username_is_taken_once(db_sessions: async_sessionmaker[AsyncSession]) -> None:
    name = fresh_name()
    await create_user(db_sessions, name, "Ewa", PASSWORD, "consultant")
    with pytest.raises(UserError, match="już istnieje"):
        await create_user(db_sessions, name, "Inna Ewa", PASSWORD, "consultant")


async def test_set_password(db_sessions: async_sessionmaker[AsyncSession]) -> None:
    name = fresh_name()
    await create_user(db_sessions, name, "Ewa", PASSWORD, "consultant")
    await set_password(db_sessions, name, "another-long-password")
    async with db_sessions() as db:
        stored = await db.scalar(select(ConsoleUser.password_hash).where(ConsoleUser.username == name))
    assert stored is not None
    assert PasswordHasher().verify(stored, "another-long-password")
    with pytest.raises(UserError, match="co najmniej 12"):
        await set_password(db_sessions, name, "short")
    with pytest.raises(UserError, match="Nie ma konta"):
        await set_password(db_sessions, "nobody-at-all", "another-long-password")


def _run_cli(database_url: str, argv: list[str], stdin: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, database_url=database_url, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_cli_adds_a_user_and_sets_a_password(database_url: str) -> None:
    name = fresh_name()
    status, out, err = _run_cli(
        database_url,
        ["add", name, "--display-name", "Piotr Wiśniewski", "--role", "consultant"],
        PASSWORD + "\n",
    )
    assert (status, err) == (0, "")
    assert out.strip() == f"Dodano konto {name} (konsultant)."
    status, out, err = _run_cli(database_url, ["passwd", name], "new-password-123\n")
    assert (status, err) == (0, "")
    assert out.strip() == f"Ustawiono nowe hasło konta {name}."


def test_cli_reports_errors_in_polish(database_url: str) -> None:
    status, out, err = _run_cli(
        database_url, ["add", fresh_name(), "--display-name", "Ktoś", "--role", "consultant"], "short\n"
    )
    assert status == 1 and out == ""
    assert err.strip() == "Błąd: Hasło musi mieć co najmniej 12 znaków."
    status, _, err = _run_cli(database_url, ["passwd", "nobody-at-all"], PASSWORD + "\n")
    assert status == 1 and "Nie ma konta „nobody-at-all”." in err


def test_cli_takes_no_password_from_the_command_line(database_url: str) -> None:
    with pytest.raises(SystemExit):
        _run_cli(
            database_url,
            ["add", fresh_name(), "--display-name", "X", "--role", "consultant", "--password", "x"],
            "",
        )


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_is_asked_twice() -> None:
    texts = load_texts()
    answers = iter([PASSWORD, PASSWORD])
    assert read_password(texts, _Terminal(), prompt=lambda _: next(answers)) == PASSWORD
    answers = iter([PASSWORD, PASSWORD + "!"])
    with pytest.raises(UserError, match="Hasła się różnią"):
        read_password(texts, _Terminal(), prompt=lambda _: next(answers))
