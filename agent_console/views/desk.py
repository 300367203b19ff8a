"""The consultant's desk on the home page: their state in the queues and the buttons to change it (log in,
pause with a reason, available, log out). The full console comes later; this is the panel.

Changes go through :class:`hotline.consultants.ConsultantStates`, as the phone's feature codes do: the
database first, then Asterisk's queues over AMI. Only a signed-in user who is an enabled consultant has a
desk.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from agent_console import keys
from agent_console.auth import current_user
from agent_console.forms import read_form
from agent_console.views.auth import see_other
from hotline.consultants import ConsultantError, ConsultantInfo, ConsultantStates
from hotline.queues import NO_ANSWER

log = logging.getLogger(__name__)

ACTIONS = ("login", "logout", "pause", "available")


async def my_desk(request: web.Request) -> ConsultantInfo | None:
    states = request.app.get(keys.CONSULTANT_STATES)
    if states is None:
        return None
    info = await states.consultants.get(current_user(request).username)
    return info if info is not None and info.enabled else None


async def desk_context(request: web.Request) -> dict[str, Any]:
    """What the home page shows of the desk (nothing for a user who is no consultant)."""
    info = await my_desk(request)
    states = request.app.get(keys.CONSULTANT_STATES)
    if info is None or states is None:
        return {"desk": None}
    reasons = [r for r in states.queues.pause_reasons.values() if r.name != NO_ANSWER]
    labels = {r.name: r.label for r in states.queues.pause_reasons.values()}
    return {
        "desk": info,
        "desk_reasons": reasons,
        "desk_reason_label": labels.get(info.pause_reason or "", ""),
    }


async def change_state(request: web.Request) -> web.StreamResponse:
    form = await read_form(request, {"action": 16, "reason": 32}, required=False)
    action, reason = form.get("action", ""), form.get("reason", "")
    states: ConsultantStates | None = request.app.get(keys.CONSULTANT_STATES)
    info = await my_desk(request)
    if info is None or states is None:
        raise web.HTTPForbidden()
    if action not in ACTIONS:
        log.warning("desk: unknown action %r from %s", action[:16], info.username)
        raise web.HTTPBadRequest()
    try:
        if action == "login":
            await states.log_in(info, source="console")
        elif action == "logout":
            await states.log_out(info, source="console")
        elif action == "pause":
            await states.pause(info, reason, source="console")
        else:
            await states.available(info, source="console")
    except ConsultantError as exc:
        log.info("desk: %s of %s refused: %s", action, info.username, exc)
        return see_other(request.app.router["home"].url_for().with_query(desk="refused").path_qs)
    return see_other(request.app.router["home"].url_for().path)
