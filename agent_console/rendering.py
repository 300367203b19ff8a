"""Views return a dict; ``page`` renders it with the template and what every page shows (user, CSRF token)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from agent_console import keys

View = Callable[[web.Request], Awaitable[Mapping[str, Any] | web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def common_context(request: web.Request) -> dict[str, Any]:
    session = request.get(keys.SESSION)
    return {"user": request.get(keys.USER), "csrf_token": session.csrf if session else None}


def render(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    return aiohttp_jinja2.render_template(
        template, request, {**common_context(request), **context}, status=status
    )


def page(template: str) -> Callable[[View], Handler]:
    """Render the view's dict with ``template``; a response the view returns goes out as it is."""

    def decorate(view: View) -> Handler:
        @functools.wraps(view)
        async def handler(request: web.Request) -> web.StreamResponse:
            result = await view(request)
            if isinstance(result, web.StreamResponse):
                return result
            return render(request, template, result)

        return handler

    return decorate
