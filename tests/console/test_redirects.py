"""Where sign-in leads: only to a page of this console, whatever ``next`` says (issue 7, finding 2)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.console.conftest import Account, Client, sign_in, signed_in

# Each one, followed by a browser, would leave the console or is no page of it.
BAD_TARGETS = [
    "/\t/evil.example",
    "/\t\t//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "//evil.example/",
    "///evil.example/",
    "/ /evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "evil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%09/evil.example",
    "/%5Cevil.example",
    "/.//evil.example",
    "/\u3000/evil.example",
    "/no-such-page",
    "/static/console.css",
    "/login",
    "/healthz",
    "/calls/not-a-number",
    "/#//evil.example",
]
# A header of its own in the answer, if it were copied into Location.
CRLF_TARGETS = ["/\r\nSet-Cookie: planted=1", "/\n/evil.example", "/\r/evil.example", "/\x00/evil.example"]
GOOD_TARGETS = ["/", "/calls/1", "/supervisor", "/?number=600+100+200", "/?number=%2B48600100200"]


def _login_url(target: str) -> str:
    return "/login?next=" + quote(target, safe="")


@pytest.mark.parametrize("target", BAD_TARGETS + CRLF_TARGETS)
async def test_the_login_page_keeps_no_foreign_target(client: Client, target: str) -> None:
    response = await client.get(_login_url(target), allow_redirects=False)
    assert response.status == 200
    page = await response.text()
    assert "Zaloguj się do konsoli" in page
    assert 'name="next" value="/"' in page


@pytest.mark.parametrize("target", BAD_TARGETS + CRLF_TARGETS)
async def test_a_signed_in_user_is_never_sent_away_by_get(
    client: Client, supervisor: Account, target: str
) -> None:
    await signed_in(client, supervisor)
    response = await client.get(_login_url(target), allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/"
    assert "planted" not in response.cookies


@pytest.mark.parametrize("target", BAD_TARGETS)
async def test_sign_in_never_leaves_the_console_by_post(
    client: Client, supervisor: Account, target: str
) -> None:
    response = await sign_in(client, supervisor.username, next_path=target)
    assert response.status == 303
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", CRLF_TARGETS)
async def test_a_control_character_in_the_posted_target_is_a_clear_page(
    client: Client, supervisor: Account, target: str
) -> None:
    # The login page never puts such a target in its form: only a forged form carries one.
    response = await sign_in(client, supervisor.username, next_path=target)
    assert response.status == 400
    assert "Location" not in response.headers
    assert "Formularz zawiera nieprawidłowe znaki." in await response.text()
    assert "planted" not in response.cookies


@pytest.mark.parametrize("target", GOOD_TARGETS)
async def test_a_page_of_the_console_is_kept(client: Client, supervisor: Account, target: str) -> None:
    page = await (await client.get(_login_url(target))).text()
    assert f'name="next" value="{target}"' in page
    response = await sign_in(client, supervisor.username, next_path=target)
    assert response.status == 303
    assert response.headers["Location"] == target
    again = await client.get(_login_url(target), allow_redirects=False)
    assert again.status == 303
    assert again.headers["Location"] == target
