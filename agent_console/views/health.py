"""``/healthz``: is the console up and does the database answer."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from agent_console import keys

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    try:
        async with request.app[keys.DB]() as db:
            await db.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError):
        log.exception("health check: the database does not answer")
        return web.json_response({"status": "error", "database": "error"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})
