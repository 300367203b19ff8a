"""Every route of the console in one place, each with who may use it.

``PUBLIC`` routes need no sign-in; every other route names the roles allowed. The auth middleware refuses a
route that is not declared here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import hdrs, web

from agent_console.keys import Access, Role
from agent_console.views import auth, calls, desk, health, offers, supervisor, transfer

STATIC_DIR = Path(__file__).resolve().parent / "static"

PUBLIC: Access = None
CONSULTANTS: Access = frozenset({Role.CONSULTANT, Role.SUPERVISOR})
SUPERVISORS: Access = frozenset({Role.SUPERVISOR})


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    name: str
    access: Access


ROUTES: tuple[Route, ...] = (
    Route(hdrs.METH_GET, "/login", auth.login_page, "login", PUBLIC),
    Route(hdrs.METH_POST, "/login", auth.login, "login_submit", PUBLIC),
    Route(hdrs.METH_GET, "/healthz", health.healthz, "healthz", PUBLIC),
    Route(hdrs.METH_POST, "/logout", auth.logout, "logout", CONSULTANTS),
    Route(hdrs.METH_GET, "/", calls.home, "home", CONSULTANTS),
    Route(hdrs.METH_POST, "/desk", desk.change_state, "desk", CONSULTANTS),
    Route(hdrs.METH_POST, "/transfer", transfer.transfer, "transfer", CONSULTANTS),
    Route(hdrs.METH_GET, r"/calls/{call_id:\d{1,12}}", calls.call_detail, "call", CONSULTANTS),
    Route(hdrs.METH_GET, "/supervisor", supervisor.dashboard, "supervisor", SUPERVISORS),
    Route(hdrs.METH_GET, "/offers", offers.search_page, "offers", CONSULTANTS),
    Route(hdrs.METH_GET, "/offers/search.json", offers.search_json, "offers_json", CONSULTANTS),
    # Any text after /offers/ reaches the view, which answers 404 for what is not a reference (OF-12, SZ-3).
    Route(hdrs.METH_GET, r"/offers/{reference:[^/]{1,40}}", offers.offer_detail, "offer", CONSULTANTS),
)
STATIC_PREFIX = "/static"


def setup_routes(app: web.Application) -> dict[web.AbstractRoute, Access]:
    """Register the routes; return each registered route (HEAD included) with its access."""
    access: dict[web.AbstractRoute, Access] = {}
    for route in ROUTES:
        resource = app.router.add_resource(route.path, name=route.name)
        access[resource.add_route(route.method, route.handler)] = route.access
        if route.method == hdrs.METH_GET:
            access[resource.add_route(hdrs.METH_HEAD, route.handler)] = route.access
    static = app.router.add_static(STATIC_PREFIX, STATIC_DIR, name="static", append_version=True)
    for static_route in static:
        access[static_route] = PUBLIC
    return access
