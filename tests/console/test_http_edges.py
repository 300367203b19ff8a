"""What the console answers below its routes: malformed requests, the Server header, the cookie's Secure flag
behind a trusted proxy (issue 7, finding 8)."""

from __future__ import annotations

import asyncio

import pytest

from agent_console.middlewares import SECURITY_HEADERS
from agent_console.security import COOKIE_NAME
from hotline.settings import Settings
from tests.console.conftest import Client, ClientFactory


async def _raw(port: int, request: bytes) -> tuple[str, dict[str, str], str]:
    """Send bytes as they are; the status line, the headers (lower-case names) and the body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status_line, headers, body.decode("utf-8", errors="replace")


MALFORMED = {
    "control character in the path": b"GET /evil-marker\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad method": b"G<evil-marker>T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad header name": b"GET / HTTP/1.1\r\nHost: x\r\nBadevil-marker Header: y\r\n\r\n",
    "bad header value": b"GET / HTTP/1.1\r\nHost: x\r\nX-Test: evil-marker\x01\r\n\r\n",
    "bad version": b"GET / HTTP/9.evil-marker\r\nHost: x\r\n\r\n",
    "bad content length": b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: evil-marker\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", list(MALFORMED.values()), ids=list(MALFORMED))
async def test_a_malformed_request_gets_the_polish_error_page(
    console_port: int, request_bytes: bytes
) -> None:
    status_line, headers, body = await _raw(console_port, request_bytes)
    assert status_line.split()[1] == "400", status_line
    assert "Nieprawidłowe żądanie." in body
    assert "<!doctype html>" in body
    assert "evil-marker" not in body and "evil-marker" not in str(headers)
    assert "Bad Request" not in body and "Invalid" not in body
    for name, value in SECURITY_HEADERS.items():
        assert headers[name.lower()] == value
    assert headers["cache-control"] == "no-store"
    assert headers["content-type"].startswith("text/html")
    assert "server" not in headers


async def test_the_console_still_answers_after_a_malformed_request(console_port: int) -> None:
    await _raw(console_port, MALFORMED["bad method"])
    status_line, headers, _ = await _raw(
        console_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status_line.startswith("HTTP/1.1 200")
    assert "server" not in headers


async def test_no_answer_names_the_server_software(client: Client) -> None:
    for path in ("/login", "/static/console.css", "/no-such-page", "/healthz"):
        response = await client.get(path)
        assert "Server" not in response.headers, path


async def _session_cookie(client: Client, headers: dict[str, str]) -> str:
    response = await client.get("/login", headers=headers)
    return next(
        value for value in response.headers.getall("Set-Cookie") if value.startswith(f"{COOKIE_NAME}=")
    )


async def test_the_cookie_is_secure_behind_a_trusted_https_proxy(
    make_client: ClientFactory, console_settings: Settings
) -> None:
    client = await make_client(console_settings.replace(console_trusted_proxies="127.0.0.1,::1"))
    assert "Secure" in await _session_cookie(client, {"X-Forwarded-Proto": "https"})
    client.session.cookie_jar.clear()
    assert "Secure" not in await _session_cookie(client, {"X-Forwarded-Proto": "http"})


async def test_an_untrusted_forwarded_proto_is_ignored(
    make_client: ClientFactory, console_settings: Settings
) -> None:
    client = await make_client()
    assert "Secure" not in await _session_cookie(client, {"X-Forwarded-Proto": "https"})
    # A proxy elsewhere is not this one.
    other = await make_client(console_settings.replace(console_trusted_proxies="10.0.0.0/8"))
    assert "Secure" not in await _session_cookie(other, {"X-Forwarded-Proto": "https"})


def test_a_bad_trusted_proxy_setting_stops_the_console(console_settings: Settings) -> None:
    from agent_console.app import create_app

    with pytest.raises(ValueError, match="console_trusted_proxies"):
        create_app(console_settings.replace(console_trusted_proxies="127.0.0.1, not-an-address"))
