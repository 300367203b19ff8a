"""Who is signed in, and whether they may use the route: checked on every request, before any view runs.

Every route declares its access in ``routes.py``; a route without a declaration is refused (fail closed).
Every POST, public or not, must carry the session's CSRF token. A signed-in session is good while the account
is active, its password and session epoch are those of the sign-in, and its last request is no older than
``settings.console_idle_minutes``; each request pushes that time on (the cookie is rewritten at most once a
minute).
"""

from __future__ import annotations

import hmac
import logging
from typing import cast

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from sqlalchemy import select
from yarl import URL

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


# Longer than any address of the console; the login form takes 2048 characters.
MAX_NEXT_LENGTH = 1024
# The cookie's time of last activity moves on at most this often (not a new cookie on every request).
ACTIVITY_STEP = 60


def _is_plain_path(target: str) -> bool:
    """Printable ASCII only (no space, no tab, no CR/LF, no backslash), path-absolute, no scheme or host."""
    if not 1 <= len(target) <= MAX_NEXT_LENGTH or "\\" in target:
        return False
    if any(not "!" <= ch <= "~" for ch in target):
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    url = URL(target)
    return (
        not url.absolute and not url.fragment and url.path.startswith("/") and not url.path.startswith("//")
    )


class _PathProbe:
    """What the router reads to resolve a request: a method and a URL. (A request whose body was read, as a
    sign-in's was, cannot be cloned with another URL.)"""

    def __init__(self, target: str) -> None:
        self.method = hdrs.METH_GET
        self.rel_url = URL(target)


async def safe_next(request: web.Request, target: str | None) -> str:
    """Where to go after signing in: a page of this console that needs a sign-in (as the router resolves it),
    or the home page; never another site, never a character that could break the Location header."""
    if not target or not _is_plain_path(target):
        return "/"
    match_info = await request.app.router.resolve(cast(web.Request, _PathProbe(target)))
    if match_info.http_exception is not None:
        return "/"
    access_map = request.app[keys.ROUTE_ACCESS]
    if match_info.route not in access_map or access_map[match_info.route] is None:
        return "/"
    return target


def now(request: web.Request) -> float:
    return request.app[keys.CLOCK]().timestamp()


async def _load_user(request: web.Request, session: SessionData) -> CurrentUser | None:
    assert session.user_id is not None
    epoch = await request.app[keys.SESSION_EPOCHS].current(session.user_id)
    if epoch is not None and epoch != session.epoch:
        return None
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
        secure=request.app[keys.TRUSTED_PROXIES].is_https(request),
    )


async def _check_csrf(request: web.Request, session: SessionData) -> None:
    form = await read_form(request, {CSRF_FIELD: 128}, required=False)
    token = form.get(CSRF_FIELD, "")
    if not token or not hmac.compare_digest(token.encode(), session.csrf.encode()):
        problem = "wrong" if token else "missing"
        raise CsrfRefused(f"CSRF token {problem} on {request.method} {request.path}")


def _refuse_anonymous(request: web.Request, expired: bool) -> web.HTTPException:
    if request.method in (hdrs.METH_GET, hdrs.METH_HEAD):
        query = {"next": request.path_qs, **({"m": "expired"} if expired else {})}
        return web.HTTPFound(request.app.router["login"].url_for().with_query(query))
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
    moment = now(request)
    session = codec.decode(request.cookies.get(COOKIE_NAME), now=moment)
    if session is None:
        session = SessionData.anonymous(moment)
        start_session(request, session)
    user = None
    expired = False
    if session.user_id is not None:
        idle_limit = request.app[keys.SETTINGS].console_idle_minutes * 60
        expired = moment - session.active_at > idle_limit
        user = None if expired else await _load_user(request, session)
        if user is None:
            # Idle too long, or signed out elsewhere: sign-out, the account disabled, removed, or its
            # password changed.
            session = SessionData.anonymous(moment)
            start_session(request, session)
        elif moment - session.active_at >= ACTIVITY_STEP:
            session = session.touched(moment)
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
                    raise _refuse_anonymous(request, expired)
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
    "now",
    "safe_next",
    "start_session",
]
