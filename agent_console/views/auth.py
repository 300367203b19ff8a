"""Signing in and out.

A sign-in is first weighed by the throttle (per account and per address, see ``throttle``): a refused one
gets its answer without the password being looked at. Sign-out ends every session of the account.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import hdrs, web
from sqlalchemy import select, update

from agent_console import keys
from agent_console.auth import current_user, fingerprint, login_url, now, safe_next, start_session
from agent_console.forms import read_form
from agent_console.rendering import page, render
from agent_console.security import SessionData
from agent_console.throttle import wait_seconds
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
    next_path = await safe_next(request, request.query.get("next"))
    if keys.USER in request:
        return see_other(next_path)
    message_key = LOGIN_MESSAGES.get(request.query.get("m", ""))
    texts = request.app[keys.TEXTS]
    return _login_context(next_path, message=texts(message_key) if message_key else None)


@page("login.html")
async def login(request: web.Request) -> dict[str, Any] | web.StreamResponse:
    form = await read_form(request, LOGIN_FORM)
    username = form["username"].strip().lower()
    next_path = await safe_next(request, form["next"])
    address = request.app[keys.TRUSTED_PROXIES].client_address(request)
    throttle = request.app[keys.LOGIN_THROTTLE]
    wait = await throttle.attempt(username, address, now(request))
    if wait > 0:
        log.warning("sign-in of %r from %s throttled for %.1f s", username[:64], address, wait)
        return _throttled(request, next_path, username, wait_seconds(wait))
    async with request.app[keys.DB]() as db:
        user = await db.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    stored_hash = user.password_hash if user is not None and user.active else None
    check = await request.app[keys.PASSWORD_WORKERS].check(stored_hash, form["password"])
    if user is None or not check.ok:
        log.warning("sign-in refused for %r from %s", username[:64], address)
        context = _login_context(next_path, error=request.app[keys.TEXTS]("login.failed"))
        context["username"] = username
        return context
    await throttle.succeeded(username, address)
    password_hash = user.password_hash
    if check.new_hash is not None:
        async with request.app[keys.DB]() as db, db.begin():
            await db.execute(
                update(ConsoleUser).where(ConsoleUser.id == user.id).values(password_hash=check.new_hash)
            )
        password_hash = check.new_hash
    # Redis not answering (None): the epoch is not known here; 0 until it answers, then sign in again.
    epoch = await request.app[keys.SESSION_EPOCHS].current(user.id) or 0
    session = request[keys.SESSION].signed_in(
        user.id, fingerprint(request.app, password_hash), epoch, now=now(request)
    )
    start_session(request, session)
    log.info("%s (%s) signed in from %s", user.username, user.role, address)
    return see_other(next_path)


def _throttled(request: web.Request, next_path: str, username: str, seconds: int) -> web.Response:
    texts, formatter = request.app[keys.TEXTS], request.app[keys.FORMATTER]
    context = _login_context(next_path, error=texts("login.throttled", wait=formatter.seconds(seconds)))
    context["username"] = username
    response = render(request, "login.html", context, status=429)
    response.headers[hdrs.RETRY_AFTER] = str(seconds)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """Ends every session of the account, this one and any other (a copied cookie too)."""
    user = current_user(request)
    everywhere = await request.app[keys.SESSION_EPOCHS].end_sessions(user.id, request[keys.SESSION].epoch)
    start_session(request, SessionData.anonymous(now(request)))
    if everywhere:
        log.info("%s signed out", user.username)
    else:
        log.warning("%s signed out; other console processes learn it when Redis answers", user.username)
    return see_other(login_url(request, message="logged_out"))
