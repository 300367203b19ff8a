"""Signing in and out."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from agent_console import keys
from agent_console.auth import current_user, fingerprint, login_url, safe_next, start_session
from agent_console.forms import read_form
from agent_console.rendering import page
from agent_console.security import SessionData, check_password_async
from hotline.db import ConsoleUser

log = logging.getLogger(__name__)

LOGIN_FORM = {"username": 128, "password": 1024, "next": 2048}
# Messages the login page shows when redirected to with ?m=…
LOGIN_MESSAGES = {"logged_out": "login.logged_out", "expired": "login.session_expired"}


def see_other(location: str) -> web.Response:
    """The answer to a POST that worked: the browser follows it with a GET."""
    return web.Response(status=303, headers={"Location": location})


def _login_context(next_path: str, message: str | None = None, error: str | None = None) -> dict[str, Any]:
    return {"next": next_path, "message": message, "error": error, "username": ""}


@page("login.html")
async def login_page(request: web.Request) -> dict[str, Any] | web.StreamResponse:
    next_path = safe_next(request.query.get("next"))
    if keys.USER in request:
        return see_other(next_path)
    message_key = LOGIN_MESSAGES.get(request.query.get("m", ""))
    texts = request.app[keys.TEXTS]
    return _login_context(next_path, message=texts(message_key) if message_key else None)


@page("login.html")
async def login(request: web.Request) -> dict[str, Any] | web.StreamResponse:
    form = await read_form(request, LOGIN_FORM)
    username = form["username"].strip().lower()
    next_path = safe_next(form["next"])
    async with request.app[keys.DB]() as db:
        user = await db.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    stored_hash = user.password_hash if user is not None and user.active else None
    check = await check_password_async(stored_hash, form["password"])
    if user is None or not check.ok:
        log.warning("sign-in refused for %r from %s", username[:64], request.remote)
        context = _login_context(next_path, error=request.app[keys.TEXTS]("login.failed"))
        context["username"] = username
        return context
    password_hash = user.password_hash
    if check.new_hash is not None:
        async with request.app[keys.DB]() as db, db.begin():
            await db.execute(
                update(ConsoleUser).where(ConsoleUser.id == user.id).values(password_hash=check.new_hash)
            )
        password_hash = check.new_hash
    start_session(request, request[keys.SESSION].signed_in(user.id, fingerprint(request.app, password_hash)))
    log.info("%s (%s) signed in from %s", user.username, user.role, request.remote)
    return see_other(next_path)


async def logout(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    start_session(request, SessionData.anonymous())
    log.info("%s signed out", user.username)
    return see_other(login_url(request, message="logged_out"))
