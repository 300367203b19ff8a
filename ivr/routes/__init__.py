"""Every FastAGI route, listed in one place: ``AGI(agi://…/<name>)`` in ``dialplans/`` runs ``ROUTES[name]``.

A route module exposes ``route(services) -> Route``; tests check that every AGI path in the dialplans has a
route here and every route here is used by a dialplan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ivr.fastagi import Route
from ivr.routes import consultant, ivr, queue_callback, transfer
from ivr.services import IvrServices

ROUTES: Mapping[str, Callable[[IvrServices], Route]] = {
    "ivr": ivr.route,
    "consultant": consultant.route,
    "transfer": transfer.route,
    "queue-callback": queue_callback.route,
}


def build_routes(services: IvrServices) -> dict[str, Route]:
    return {name: make(services) for name, make in ROUTES.items()}
