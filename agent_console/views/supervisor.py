"""The supervisor's page: today's figures and the pending callback requests."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_console import keys, queries
from agent_console.rendering import page


@page("supervisor.html")
async def dashboard(request: web.Request) -> dict[str, Any]:
    formatter = request.app[keys.FORMATTER]
    today = formatter.local(request.app[keys.CLOCK]()).date()
    async with request.app[keys.DB]() as db:
        figures = await queries.day_figures(db, today, formatter.timezone)
        callbacks = await queries.pending_callbacks(db)
    return {"figures": figures, "callbacks": callbacks}
