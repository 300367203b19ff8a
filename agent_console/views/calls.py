"""The consultant's pages: recent calls, search by phone number, one call with its path and history."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_console import keys, queries
from agent_console.rendering import page
from agent_console.views.desk import desk_context
from agent_console.views.transfer import transfer_context
from hotline.phone import MAX_TYPED_LENGTH, NotAPhoneNumber, parse_typed


@page("home.html")
async def home(request: web.Request) -> dict[str, Any]:
    settings = request.app[keys.SETTINGS]
    texts = request.app[keys.TEXTS]
    typed = request.query.get("number")
    context: dict[str, Any] = {
        "typed": typed or "",
        "search_error": None,
        "searched": None,
        "search_box": True,
        "desk_refused": request.query.get("desk") == "refused",
        **await desk_context(request),
        **transfer_context(request),
    }
    async with request.app[keys.DB]() as db:
        if typed is None or not typed.strip():
            context["calls"] = await queries.recent_calls(db)
            return context
        try:
            number = parse_typed(typed, settings.default_region)
        except NotAPhoneNumber as exc:
            shown = typed.strip()[:MAX_TYPED_LENGTH]
            context["search_error"] = texts(f"home.search_{exc.reason}", text=shown)
            context["calls"] = await queries.recent_calls(db)
            return context
        context["searched"] = number
        context["calls"] = await queries.calls_from(db, number)
    return context


@page("call.html")
async def call_detail(request: web.Request) -> dict[str, Any]:
    call_id = int(request.match_info["call_id"])
    page_text = request.query.get("page", "1")
    page = int(page_text) if page_text.isdigit() and len(page_text) <= 6 else 1
    async with request.app[keys.DB]() as db:
        detail = await queries.call_detail(db, call_id, page=page)
    if detail is None:
        raise web.HTTPNotFound()
    shown = detail.first + len(detail.steps)
    return {
        "call": detail.call,
        "steps": detail.steps,
        "steps_first": detail.first,
        "steps_total": detail.total_steps,
        "steps_page": detail.first // queries.STEPS_PAGE + 1,
        "steps_more": shown < detail.total_steps,
        "history": detail.history,
        "case_cards": await request.app[keys.CASE_CARDS].of_call(call_id),
        "back_link": True,
    }
