"""Who is signed in, and whether they may use the route: checked on every request, before any view runs.

Every route declares its access in ``routes.py``; a route without a declaration is refused (fail closed).
Every POST, public or not, must carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from sqlalchemy import select

from agent_console import keys
from agent_console.errors import CsrfRefused
from agent_console.forms import read_form
from agent_console.keys import CurrentUser, Role
from agent_console.security import COOKIE_NAME, SessionData, password_fingerprint
from hotline.db import ConsoleUser

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"
ROLE_NAMES = frozenset(role.value for role in Role)
SAFE_METHODS = frozenset({hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS})


def fingerprint(app: web.Application, password_hash: str) -> str:
    return password_fingerprint(app[keys.FINGERPRINT_KEY], password_hash)


def current_user(request: web.Request) -> CurrentUser:
    """The signed-in user of a route that is not public (the middleware made sure there is one)."""
    return request[keys.USER]


def start_session(request: web.Request, session: SessionData) -> None:
    """Replace the session: the middleware writes its cookie on the way out."""
    request[keys.NEW_SESSION] = session


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path of this console, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def _load_user(request: web.Request, session: SessionData) -> CurrentUser | None:
    async with request.app[keys.DB]() as db:
        row = await db.scalar(select(ConsoleUser).where(ConsoleUser.id == session.user_id))
    if row is None or not row.active or row.role not in ROLE_NAMES:
        return None
    if session.password_fp is None or not hmac.compare_digest(
        session.password_fp, fingerprint(request.app, row.password_hash)
    ):
        return None
    return CurrentUser(id=row.id, username=row.username, display_name=row.display_name, role=Role(row.role))


def _write_cookie(request: web.Request, response: web.StreamResponse) -> None:
    session = request.get(keys.NEW_SESSION)
    if session is None:
        return
    codec = request.app[keys.SESSION_CODEC]
    response.set_cookie(
        COOKIE_NAME,
        codec.encode(session),
        max_age=codec.max_age,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.secure,
    )


async def _check_csrf(request: web.Request, session: SessionData) -> None:
    form = await read_form(request, {CSRF_FIELD: 128}, required=False)
    token = form.get(CSRF_FIELD, "")
    if not token or not hmac.compare_digest(token.encode(), session.csrf.encode()):
        problem = "wrong" if token else "missing"
        raise CsrfRefused(f"CSRF token {problem} on {request.method} {request.path}")


def _refuse_anonymous(request: web.Request) -> web.HTTPException:
    if request.method in (hdrs.METH_GET, hdrs.METH_HEAD):
        login = request.app.router["login"].url_for().with_query(next=request.path_qs)
        return web.HTTPFound(login)
    return web.HTTPUnauthorized()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    match_info = request.match_info
    access_map = request.app[keys.ROUTE_ACCESS]
    if (
        match_info.http_exception is None
        and isinstance(match_info.route.resource, web.StaticResource)
        and match_info.route in access_map
        and access_map[match_info.route] is None
    ):
        # The style sheet: public, and not worth a database query for the session.
        return await handler(request)
    codec = request.app[keys.SESSION_CODEC]
    session = codec.decode(request.cookies.get(COOKIE_NAME))
    if session is None:
        session = SessionData.anonymous()
        start_session(request, session)
    user = await _load_user(request, session) if session.user_id is not None else None
    if session.user_id is not None and user is None:
        # Signed out elsewhere: the account was disabled, removed, or its password changed.
        session = SessionData.anonymous()
        start_session(request, session)
    request[keys.SESSION] = session
    if user is not None:
        request[keys.USER] = user
    try:
        if match_info.http_exception is None:
            route = match_info.route
            if route not in access_map:
                log.error("route %s %s has no declared access: refused", request.method, request.path)
                raise web.HTTPForbidden()
            access = access_map[route]
            if access is not None:
                if user is None:
                    raise _refuse_anonymous(request)
                if user.role not in access:
                    log.warning(
                        "%s (%s) refused on %s %s", user.username, user.role, request.method, request.path
                    )
                    raise web.HTTPForbidden()
            if request.method not in SAFE_METHODS:
                await _check_csrf(request, session)
        response = await handler(request)
    except web.HTTPException as exc:
        _write_cookie(request, exc)
        raise
    _write_cookie(request, response)
    return response


def login_url(request: web.Request, message: str | None = None) -> str:
    url = request.app.router["login"].url_for()
    return str(url.with_query(m=message)) if message else str(url)


__all__ = [
    "CSRF_FIELD",
    "auth_middleware",
    "current_user",
    "fingerprint",
    "login_url",
    "safe_next",
    "start_session",
]
