"""Console accounts: create one, set its password, disable or enable it, and the
``hotline user add|passwd|disable|enable`` command behind it."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.keys import Role
from agent_console.security import hash_password
from agent_console.session_epochs import SessionEpochs
from agent_console.shared_state import SharedState
from agent_console.texts import Texts, load_texts
from hotline.db import ConsoleUser, create_engine, session_factory
from hotline.settings import Settings, load_settings

USERNAME_PATTERN = re.compile(r"[a-z][a-z0-9._-]{2,63}")
MIN_PASSWORD_LENGTH = 12
# The login form takes no more; argon2 itself would take any length.
MAX_PASSWORD_LENGTH = 1024
MAX_DISPLAY_NAME_LENGTH = 128


class UserError(ValueError):
    """A refused account change; ``message`` is for the person at the keyboard (Polish)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _check_password(password: str, texts: Texts) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(texts("users.short_password", min=MIN_PASSWORD_LENGTH))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(texts("users.long_password", max=MAX_PASSWORD_LENGTH))


def _check_display_name(display_name: str, texts: Texts) -> str:
    name = display_name.strip()
    if not 1 <= len(name) <= MAX_DISPLAY_NAME_LENGTH or any(
        unicodedata.category(ch).startswith("C") for ch in name
    ):
        raise UserError(texts("users.bad_display_name"))
    return name


async def create_user(
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    display_name: str,
    password: str,
    role: str,
    *,
    texts: Texts | None = None,
) -> ConsoleUser:
    texts = texts or load_texts()
    if role not in {r.value for r in Role}:
        allowed = ", ".join(r.value for r in Role)
        raise UserError(texts("users.bad_role", role=role, allowed=allowed))
    if not USERNAME_PATTERN.fullmatch(username):
        raise UserError(texts("users.bad_username"))
    name = _check_display_name(display_name, texts)
    _check_password(password, texts)
    password_hash = await asyncio.to_thread(hash_password, password)
    user = ConsoleUser(
        username=username, display_name=name, password_hash=password_hash, role=role, active=True
    )
    async with sessions() as db:
        if await db.scalar(select(ConsoleUser.id).where(ConsoleUser.username == username)) is not None:
            raise UserError(texts("users.exists", username=username))
        db.add(user)
        try:
            await db.commit()
        except IntegrityError as exc:
            # Another process added the same username in between.
            raise UserError(texts("users.exists", username=username)) from exc
    return user


async def set_password(
    sessions: async_sessionmaker[AsyncSession], username: str, password: str, *, texts: Texts | None = None
) -> None:
    """Set a new password; every open session of that account ends with it."""
    texts = texts or load_texts()
    _check_password(password, texts)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with sessions() as db:
        user = await db.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
        if user is None:
            raise UserError(texts("users.not_found", username=username))
        user.password_hash = password_hash
        await db.commit()


async def set_active(
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    *,
    active: bool,
    epochs: SessionEpochs | None = None,
    texts: Texts | None = None,
) -> bool:
    """Disable or enable an account. Either way every session it had ends: a disabled account's at once (the
    console checks ``active`` on every request), and none from before comes back when it is enabled again
    (``epochs``: its session epoch moves on). Returns False when the epoch could not be moved (Redis did not
    answer): the account is changed all the same."""
    texts = texts or load_texts()
    async with sessions() as db:
        user = await db.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
        if user is None:
            raise UserError(texts("users.not_found", username=username))
        user.active = active
        await db.commit()
        user_id = user.id
    if epochs is None:
        return True
    return await epochs.end_sessions(user_id)


def read_password(
    texts: Texts,
    stdin: TextIO | None = None,
    prompt: Callable[[str], str] = getpass.getpass,
) -> str:
    """Asked twice on a terminal; one line from standard input otherwise (for scripts). Never from argv."""
    stream = stdin or sys.stdin
    if stream.isatty():
        first = prompt(texts("cli.password_prompt", min=MIN_PASSWORD_LENGTH))
        if prompt(texts("cli.password_again")) != first:
            raise UserError(texts("cli.password_mismatch"))
        return first
    return stream.readline().rstrip("\r\n")


def build_parser(texts: Texts) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline user", description=texts("cli.description"))
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help=texts("cli.add_help"))
    add.add_argument("username", help=texts("cli.username_help"))
    add.add_argument("--display-name", required=True, help=texts("cli.display_name_help"))
    add.add_argument("--role", required=True, choices=[r.value for r in Role], help=texts("cli.role_help"))
    passwd = commands.add_parser("passwd", help=texts("cli.passwd_help"))
    passwd.add_argument("username", help=texts("cli.username_help"))
    disable = commands.add_parser("disable", help=texts("cli.disable_help"))
    disable.add_argument("username", help=texts("cli.username_help"))
    enable = commands.add_parser("enable", help=texts("cli.enable_help"))
    enable.add_argument("username", help=texts("cli.username_help"))
    return parser


# The commands that ask for a password.
_WITH_PASSWORD = frozenset({"add", "passwd"})


async def _run(args: argparse.Namespace, password: str, settings: Settings, texts: Texts, err: TextIO) -> str:
    engine = create_engine(settings.effective_database_url)
    try:
        sessions = session_factory(engine)
        if args.command == "add":
            user = await create_user(
                sessions, args.username, args.display_name, password, args.role, texts=texts
            )
            return texts("cli.user_added", username=user.username, role=texts.label("roles", user.role))
        if args.command == "passwd":
            await set_password(sessions, args.username, password, texts=texts)
            return texts("cli.password_set", username=args.username)
        shared = SharedState(settings.redis_url, settings.redis_prefix)
        try:
            active = args.command == "enable"
            everywhere = await set_active(
                sessions, args.username, active=active, epochs=SessionEpochs(shared), texts=texts
            )
        finally:
            await shared.close()
        if not everywhere:
            print(texts("cli.sessions_not_shared", username=args.username), file=err)
        return texts("cli.user_enabled" if active else "cli.user_disabled", username=args.username)
    finally:
        await engine.dispose()


def main(
    argv: Sequence[str] | None = None,
    *,
    database_url: str | None = None,
    settings: Settings | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``hotline user add NAME --display-name … --role consultant|supervisor``; ``hotline user passwd NAME``;
    ``hotline user disable|enable NAME``.

    The settings are ``settings`` or ``load_settings()``, with ``database_url`` (if given) for the database;
    disable and enable also use their Redis. Returns the exit status.
    """
    texts = load_texts()
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser(texts).parse_args(argv)
    settings = settings or load_settings()
    if database_url is not None:
        settings = settings.replace(database_url=database_url)
    try:
        password = read_password(texts, stdin) if args.command in _WITH_PASSWORD else ""
        message = asyncio.run(_run(args, password, settings, texts, err))
    except UserError as exc:
        print(texts("cli.error", message=exc.message), file=err)
        return 1
    print(message, file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
