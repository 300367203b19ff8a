"""The transfer form on the home page and the case cards on the call page (the transfer itself over AMI, with
real phones: tests/e2e/test_transfers.py). These consoles have no Asterisk: a transfer is refused with a
message, and nothing is written."""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.users import create_user
from hotline.consultants import Consultants, parse_skill
from hotline.db import CaseCard
from hotline.transfers import CaseCards, Target
from tests.console.conftest import CSRF, PASSWORD, Account, Client, signed_in
from tests.console.helpers import add_call, unique_mobile
from tests.data import QUEUES


async def consultant_at_desk(
    db_sessions: async_sessionmaker[AsyncSession],
) -> tuple[Account, Consultants]:
    username = f"xfer-{uuid.uuid4().hex[:10]}"
    await create_user(db_sessions, username, "Jan Przekazujący", PASSWORD, "consultant")
    consultants = Consultants(db_sessions, QUEUES)
    await consultants.add(username, site="centre", skills=[parse_skill("jobs:pl:3")])
    return Account(username=username, display_name="Jan Przekazujący", role="consultant"), consultants


async def post_transfer(client: Client, **fields: str) -> tuple[int, str]:
    match = CSRF.search(await (await client.get("/")).text())
    assert match
    response = await client.post(
        "/transfer", data={"csrf_token": match.group(1), **fields}, allow_redirects=False
    )
    return response.status, response.headers.get("Location", "")


async def cards(db_sessions: async_sessionmaker[AsyncSession]) -> int:
    async with db_sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(CaseCard)) or 0)


async def test_a_consultant_in_the_queues_sees_the_transfer_form_with_the_codes(
    client: Client, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account, _ = await consultant_at_desk(db_sessions)
    await signed_in(client, account)
    assert "Przekaż bieżące połączenie" not in await (await client.get("/")).text()
    match = CSRF.search(await (await client.get("/")).text())
    assert match
    await client.post("/desk", data={"csrf_token": match.group(1), "action": "login"}, allow_redirects=False)
    page = html.unescape(await (await client.get("/")).text())
    assert "Przekaż bieżące połączenie" in page
    assert '<option value="training">72 szkolenia i staże</option>' in page
    assert '<option value="ecam">76 ECAM (OHP, młodzież)</option>' in page
    assert 'value="office"' in page and "#1" in page and "*2" in page


async def test_a_transfer_without_a_call_is_refused_with_a_message_and_writes_no_card(
    client: Client, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account, _ = await consultant_at_desk(db_sessions)
    await signed_in(client, account)
    before = await cards(db_sessions)
    for fields in (
        {"target": "training", "mode": "blind", "note": "x"},
        {"target": "ecam", "mode": "attended"},
        {"target": "office", "office": "PUP-9999", "mode": "blind"},
        {"target": "nowhere", "mode": "blind"},
    ):
        status, location = await post_transfer(client, **fields)
        assert (status, location) == (303, "/?transfer=refused"), fields
    assert "Nie można przekazać" in await (await client.get("/?transfer=refused")).text()
    assert await cards(db_sessions) == before


async def test_a_bad_mode_is_a_bad_request_and_a_user_without_a_desk_is_forbidden(
    client: Client, db_sessions: async_sessionmaker[AsyncSession], supervisor: Account
) -> None:
    account, _ = await consultant_at_desk(db_sessions)
    await signed_in(client, account)
    assert (await post_transfer(client, target="training", mode="drop"))[0] == 400
    assert (await post_transfer(client, target="training", mode="blind", note="x" * 1001))[0] == 400
    await client.post(
        "/logout", data={"csrf_token": CSRF.search(await (await client.get("/")).text()).group(1)}
    )  # type: ignore[union-attr]
    await signed_in(client, supervisor)
    assert (await post_transfer(client, target="training", mode="blind"))[0] == 403


async def test_the_call_page_shows_the_case_cards_latest_first_with_the_note_escaped(
    client: Client, consultant: Account, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    call = await add_call(
        db_sessions,
        datetime.now(UTC) - timedelta(minutes=5),
        caller_number=unique_mobile(),
        topic="jobs",
        language="uk",
        steps=[(1, "welcome", "2"), (3, "main", "1"), (5, "jobs", "0")],
    )
    store = CaseCards(db_sessions)
    first = await store.create(
        call.uniqueid,
        Target("queue", "training", "training", code="72"),
        mode="blind",
        source="console",
        consultant=None,
        note="<b>Pyta</b> o staż",
    )
    second = await store.create(
        call.uniqueid,
        Target("external", "PUP-2001", "PUP w Białymstoku", "+48857496100"),
        mode="attended",
        source="phone",
        consultant=None,
    )
    await signed_in(client, consultant)
    page = await (await client.get(f"/calls/{call.id}")).text()
    assert "&lt;b&gt;Pyta&lt;/b&gt; o staż" in page and "<b>Pyta</b>" not in page
    text = html.unescape(page)
    assert text.index(f"Karta nr {second.id}") < text.index(f"Karta nr {first.id}")
    assert "szkolenia i staże" in text and "PUP-2001" in text and "z zapowiedzią, z telefonu" in text
    assert "bez zapowiedzi, z konsoli" in text
    assert "ukraiński" in text
