"""Every registered route declares who may use it, and the declaration holds for every kind of user."""

from __future__ import annotations

from aiohttp import hdrs, web

from agent_console import keys
from agent_console.app import create_app
from agent_console.routes import CONSULTANTS, PUBLIC, ROUTES, SUPERVISORS
from hotline.settings import Settings
from tests.console.conftest import Account, Client, csrf_token, signed_in


def _url(route: web.AbstractRoute) -> str:
    """A URL that reaches the route (dynamic parts filled with a plausible value)."""
    resource = route.resource
    assert resource is not None
    info = resource.get_info()
    if "formatter" in info:
        return str(info["formatter"]).replace("{call_id}", "1")
    if "prefix" in info:
        return str(info["prefix"]) + "/console.css"
    return str(info["path"])


def _routes(app: web.Application) -> list[tuple[web.AbstractRoute, keys.Access]]:
    access = app[keys.ROUTE_ACCESS]
    return [(route, access[route]) for route in app.router.routes()]


def test_every_registered_route_declares_its_access(console_settings: Settings) -> None:
    app = create_app(console_settings)
    access = app[keys.ROUTE_ACCESS]
    registered = list(app.router.routes())
    assert registered, "no routes"
    for route in registered:
        assert route in access, f"{route.method} {_url(route)} has no declared access"
    public = {(route.method, _url(route)) for route in registered if access[route] is PUBLIC}
    assert public == {
        ("GET", "/login"),
        ("HEAD", "/login"),
        ("POST", "/login"),
        ("GET", "/healthz"),
        ("HEAD", "/healthz"),
        ("GET", "/static/console.css"),
        ("HEAD", "/static/console.css"),
    }
    assert {route.access for route in ROUTES} <= {PUBLIC, CONSULTANTS, SUPERVISORS}


async def test_anonymous_users_are_sent_to_sign_in(client: Client) -> None:
    token = await csrf_token(client)
    checked = 0
    for route, access in _routes(client.app):
        if access is PUBLIC:
            continue
        url = _url(route)
        response = await client.request(route.method, url, data={"csrf_token": token}, allow_redirects=False)
        if route.method in (hdrs.METH_GET, hdrs.METH_HEAD):
            assert response.status == 302, f"{route.method} {url}"
            assert response.headers["Location"].startswith("/login?next="), url
        else:
            assert response.status == 401, f"{route.method} {url}"
            assert "Musisz się zalogować." in await response.text()
        checked += 1
    assert checked >= 5


async def test_consultants_are_refused_supervisor_routes(client: Client, consultant: Account) -> None:
    await signed_in(client, consultant)
    token = await csrf_token(client, "/")
    refused = 0
    for route, access in _routes(client.app):
        if access is PUBLIC or (route.method == hdrs.METH_POST and access != SUPERVISORS):
            continue  # Allowed POSTs (sign-out) are tested on their own.
        url = _url(route)
        response = await client.request(route.method, url, data={"csrf_token": token}, allow_redirects=False)
        if access is not None and "consultant" in access:
            assert response.status in (200, 404), f"{route.method} {url}: {response.status}"
        else:
            assert response.status == 403, f"{route.method} {url}: {response.status}"
            if route.method != hdrs.METH_HEAD:
                assert "Nie masz uprawnień do tej strony." in await response.text()
            refused += 1
    assert refused >= 2  # GET and HEAD /supervisor at least


async def test_supervisors_may_use_every_page(client: Client, supervisor: Account) -> None:
    await signed_in(client, supervisor)
    for route, access in _routes(client.app):
        if route.method not in (hdrs.METH_GET, hdrs.METH_HEAD) or access is PUBLIC:
            continue
        url = _url(route)
        response = await client.request(route.method, url, allow_redirects=False)
        assert response.status in (200, 404), f"{route.method} {url}: {response.status}"
    page = await (await client.get("/")).text()
    assert "Panel kierownika" in page
