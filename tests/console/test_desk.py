"""The desk panel on the home page: a consultant logs in to the queues, pauses with a reason, comes back and
logs out; the database keeps each change (Asterisk's side: tests/e2e/test_consultants.py)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.users import create_user
from hotline.consultants import Consultants, parse_skill
from tests.console.conftest import CSRF, PASSWORD, Account, Client, signed_in
from tests.data import QUEUES


async def consultant_with_desk(db_sessions: async_sessionmaker[AsyncSession]) -> tuple[Account, Consultants]:
    username = f"desk-{uuid.uuid4().hex[:10]}"
    await create_user(db_sessions, username, "Ewa Stanowisko", PASSWORD, "consultant")
    consultants = Consultants(db_sessions, QUEUES)
    await consultants.add(username, site="centre", skills=[parse_skill("jobs:pl:3")])
    return Account(username=username, display_name="Ewa Stanowisko", role="consultant"), consultants


async def press(client: Client, **fields: str) -> str:
    page = await (await client.get("/")).text()
    match = CSRF.search(page)
    assert match
    response = await client.post(
        "/desk", data={"csrf_token": match.group(1), **fields}, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    return response.headers["Location"]


async def test_a_consultant_logs_in_pauses_comes_back_and_logs_out_from_the_home_page(
    client: Client, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account, consultants = await consultant_with_desk(db_sessions)
    await signed_in(client, account)
    page = await (await client.get("/")).text()
    assert "Moje stanowisko" in page and "Wylogowano z kolejek" in page

    assert await press(client, action="login") == "/"
    assert (await consultants.get(account.username)).state == "available"  # type: ignore[union-attr]
    page = await (await client.get("/")).text()
    assert "Dostępny w kolejkach" in page and 'value="training"' in page and 'value="no_answer"' not in page

    await press(client, action="pause", reason="training")
    assert (await consultants.get(account.username)).state == "paused:training"  # type: ignore[union-attr]
    assert "Przerwa: Szkolenie" in await (await client.get("/")).text()

    await press(client, action="available")
    await press(client, action="logout")
    assert (await consultants.get(account.username)).state == "logged_out"  # type: ignore[union-attr]


async def test_a_wrong_pause_reason_is_refused_with_a_message_and_changes_nothing(
    client: Client, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account, consultants = await consultant_with_desk(db_sessions)
    await signed_in(client, account)
    await press(client, action="login")
    for reason in ("no_answer", "lunch", "x" * 32):
        location = await press(client, action="pause", reason=reason)
        assert location == "/?desk=refused"
        assert "Tej zmiany nie można teraz wykonać" in await (await client.get(location)).text()
    assert (await consultants.get(account.username)).state == "available"  # type: ignore[union-attr]


async def test_a_user_without_a_desk_sees_no_panel_and_cannot_change_a_state(
    client: Client, supervisor: Account
) -> None:
    await signed_in(client, supervisor)
    page = await (await client.get("/")).text()
    assert "Moje stanowisko" not in page
    match = CSRF.search(page)
    assert match
    response = await client.post("/desk", data={"csrf_token": match.group(1), "action": "login"})
    assert response.status == 403


async def test_an_unknown_action_is_a_bad_request(
    client: Client, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account, consultants = await consultant_with_desk(db_sessions)
    await signed_in(client, account)
    match = CSRF.search(await (await client.get("/")).text())
    assert match
    response = await client.post("/desk", data={"csrf_token": match.group(1), "action": "drop"})
    assert response.status == 400
    assert (await consultants.get(account.username)).state == "logged_out"  # type: ignore[union-attr]
