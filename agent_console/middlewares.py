"""The one error middleware, the headers every response carries, and the page for errors below the routes."""

from __future__ import annotations

import logging
import secrets

import aiohttp_jinja2
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from agent_console import keys
from agent_console.errors import ConsoleError
from agent_console.rendering import render

log = logging.getLogger(__name__)

_MESSAGES = {400, 401, 403, 404, 405, 413, 500, 503}
_KEPT_HEADERS = (hdrs.ALLOW, hdrs.RETRY_AFTER)

SECURITY_HEADERS = {
    # No script at all: the console is server-rendered.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _render_error(
    request: web.Request,
    status: int,
    message: str,
    reference: str | None = None,
) -> web.Response:
    texts = request.app[keys.TEXTS]
    context = {"status": status, "message": message, "reference": reference}
    try:
        return render(request, "error.html", context, status=status)
    except Exception:
        # A broken template must not hide the original error; show the message in plain text.
        log.exception("the error page could not be rendered")
        body = f"{texts('errors.title')} {status}: {message}"
        return web.Response(status=status, text=body, content_type="text/plain", charset="utf-8")


def _status_message(request: web.Request, status: int) -> str:
    texts = request.app[keys.TEXTS]
    return texts(f"errors.{status}" if status in _MESSAGES else "errors.other")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status >= 500:
            log.error("%s %s answered %s", request.method, request.path, exc.status)
        else:
            log.info("%s %s answered %s", request.method, request.path, exc.status)
        response = _render_error(request, exc.status, _status_message(request, exc.status))
        for name in _KEPT_HEADERS:
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        for morsel in exc.cookies.values():
            response.cookies[morsel.key] = morsel
        return response
    except ConsoleError as exc:
        texts = request.app[keys.TEXTS]
        values = dict(exc.text_values)
        if "field" in values:
            values["field"] = texts.label("fields", str(values["field"]))
        log.warning("%s %s refused (%s): %s", request.method, request.path, exc.status, exc.detail)
        return _render_error(request, exc.status, texts(exc.text_key, **values))
    except Exception:
        reference = secrets.token_hex(4)
        log.exception("%s %s failed, reference %s", request.method, request.path, reference)
        return _render_error(request, 500, _status_message(request, 500), reference)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        # Pages show callers' phone numbers: keep them out of caches.
        response.headers.setdefault(hdrs.CACHE_CONTROL, "no-store")
    # aiohttp names itself and its version there: no use to a browser, a hint to an attacker.
    response.headers.popall(hdrs.SERVER, None)


def bare_error_page(app: web.Application, status: int, text_key: str) -> tuple[str, dict[str, str]]:
    """The error page and its headers for an answer given outside any route and middleware (a request
    aiohttp could not parse): no user, no session, nothing of the request in it."""
    texts = app[keys.TEXTS]
    context = {
        "status": status,
        "message": texts(text_key),
        "reference": None,
        "user": None,
        "csrf_token": None,
    }
    try:
        body = aiohttp_jinja2.get_env(app).get_template("error.html").render(context)
        content_type = "text/html; charset=utf-8"
    except Exception:
        log.exception("the error page could not be rendered")
        body = f"{texts('errors.title')} {status}: {context['message']}"
        content_type = "text/plain; charset=utf-8"
    headers = {**SECURITY_HEADERS, hdrs.CACHE_CONTROL: "no-store", hdrs.CONTENT_TYPE: content_type}
    return body, headers
