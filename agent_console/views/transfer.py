"""Transfers from the console's home page: the consultant's current call, blind or attended, to a topic's
queue, to ECAM or to a local labour office (by its code in the directory), with a note for the next
consultant. Done by :class:`hotline.transfers.Transfers` (the case card first, then AMI); the call page
shows the case cards of a call.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from agent_console import keys
from agent_console.forms import read_form
from agent_console.views.auth import see_other
from agent_console.views.desk import my_desk
from hotline.transfers import MODES, NOTE_MAX, TransferError

log = logging.getLogger(__name__)

OFFICE = "office"


def transfer_context(request: web.Request) -> dict[str, Any]:
    """What the home page's transfer form offers (nothing where transfers are not available)."""
    transfers = request.app.get(keys.TRANSFERS)
    if transfers is None:
        return {"transfer_targets": None}
    return {
        "transfer_targets": transfers.targets.topics(),
        "transfer_note_max": NOTE_MAX,
        "transfer_result": request.query.get("transfer", ""),
    }


async def transfer(request: web.Request) -> web.StreamResponse:
    form = await read_form(
        request, {"target": 32, "office": 16, "mode": 16, "note": NOTE_MAX}, required=False
    )
    transfers = request.app.get(keys.TRANSFERS)
    info = await my_desk(request)
    if info is None or transfers is None:
        raise web.HTTPForbidden()
    target_name, mode = form.get("target", ""), form.get("mode", "")
    if mode not in MODES or not target_name:
        log.warning("transfer: mode %r, target %r from %s", mode[:16], target_name[:32], info.username)
        raise web.HTTPBadRequest()
    home = request.app.router["home"].url_for()
    try:
        if target_name == OFFICE:
            target = await transfers.targets.office(form.get("office", ""))
        else:
            target = transfers.targets.topic(target_name)
        card = await transfers.transfer(info, target, mode=mode, note=form.get("note", ""))
    except TransferError as exc:
        log.info("transfer by %s refused: %s", info.username, exc)
        return see_other(home.with_query(transfer="refused").path_qs)
    return see_other(home.with_query(transfer=str(card.id)).path_qs)
