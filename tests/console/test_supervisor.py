"""The supervisor's page: the day's figures from the calls table, and the pending callback requests."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.queries import day_bounds
from hotline.db import CallbackRequest
from tests.console.conftest import Account, ClientFactory, signed_in
from tests.console.helpers import add_call, add_callback, unique_mobile

WARSAW = ZoneInfo("Europe/Warsaw")


def figure(page: str, key: str) -> str:
    match = re.search(rf'id="figure-{key}"><dt>[^<]*</dt><dd>([^<]*)</dd>', page)
    assert match, f"no figure {key}"
    return match.group(1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_day_is_local_and_knows_about_summer_time() -> None:
    start, end = day_bounds(date(2020, 3, 29), WARSAW)
    assert start.astimezone(UTC) == utc(2020, 3, 28, 23, 0)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)
    start, end = day_bounds(date(2020, 10, 25), WARSAW)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)


async def test_figures_of_the_day_from_the_calls_table(
    make_client: ClientFactory, supervisor: Account, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    # 29 March 2020, the day Poland moved to summer time: 23 hours, from 23:00 UTC to 22:00 UTC.
    number = unique_mobile
    # 23:59 local time the day before: not counted.
    await add_call(db_sessions, utc(2020, 3, 28, 22, 59), caller_number=number(), outcome="queued")
    await add_call(
        db_sessions,
        utc(2020, 3, 28, 23, 0),
        caller_number=number(),
        outcome="self_service",
        seconds=60,
        answered_after=0.5,
    )
    await add_call(
        db_sessions,
        utc(2020, 3, 29, 8, 0),
        caller_number=number(),
        outcome="queued",
        seconds=300,
        answered_after=1,
        steps=[(5, "welcome", None), (20, "queue", "1")],
    )
    await add_call(
        db_sessions,
        utc(2020, 3, 29, 9, 0),
        withheld=True,
        outcome="hung_up_in_menu",
        seconds=30,
        answered_after=1,
    )
    await add_call(
        db_sessions,
        utc(2020, 3, 29, 10, 0),
        caller_number=number(),
        outcome="fallback_queue",
        seconds=90,
        steps=[(0, "fallback", None), (40, "queue", None)],
    )
    callback_call = await add_call(
        db_sessions,
        utc(2020, 3, 29, 11, 0),
        caller_number=number(),
        outcome="callback_requested",
        seconds=50,
        answered_after=1,
        steps=[(10, "callback", "1")],
    )
    await add_call(
        db_sessions,
        utc(2020, 3, 29, 12, 0),
        caller_number=number(),
        outcome="abandoned",
        seconds=200,
        answered_after=1,
        steps=[(40, "queue", None)],
    )
    # Still in the menu at 23:59 local time: counted, but not in the average time in the menu.
    await add_call(
        db_sessions,
        utc(2020, 3, 29, 21, 59),
        caller_number=number(),
        outcome=None,
        seconds=None,
        answered_after=1,
        steps=[(3, "welcome", None)],
    )
    # 00:00 local time the next day: not counted.
    await add_call(db_sessions, utc(2020, 3, 29, 22, 0), caller_number=number(), outcome="queued")

    waiting, linked, done = unique_mobile(), unique_mobile(), unique_mobile()
    await add_callback(db_sessions, waiting, utc(2020, 3, 29, 9, 30), topic="registration")
    await add_callback(db_sessions, linked, utc(2020, 3, 29, 11, 1), call_id=callback_call.id)
    await add_callback(db_sessions, done, utc(2020, 3, 29, 8, 0), status="done")

    client = await make_client(clock=lambda: utc(2020, 3, 29, 10, 0))
    await signed_in(client, supervisor)
    async with db_sessions() as db:
        pending = await db.scalar(
            select(func.count(CallbackRequest.id)).where(CallbackRequest.status == "pending")
        )
    response = await client.get("/supervisor")
    assert response.status == 200
    page = html.unescape(await response.text())
    assert "Dzisiaj, 29.03.2020" in page
    assert figure(page, "calls") == "7"
    assert figure(page, "answered") == "6"
    assert figure(page, "queued") == "3"  # queued, fallback queue, abandoned in the queue
    assert figure(page, "self_service") == "1"
    assert figure(page, "hung_up_in_menu") == "1"
    assert figure(page, "callbacks_pending") == str(pending)
    # (60 + 20 + 30 + 40 + 50 + 40) / 6 seconds
    assert figure(page, "average_ivr_time") == "40 s"

    callbacks = page[page.index("Oczekujące prośby o oddzwonienie") :]

    def shown(e164: str) -> str:
        parsed = phonenumbers.parse(e164)
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)

    assert shown(waiting) in callbacks and "rejestracja i zasiłek dla bezrobotnych" in callbacks
    assert "29.03.2020 11:30:00" in callbacks  # 09:30 UTC in summer time
    assert shown(linked) in callbacks and f"/calls/{callback_call.id}" in callbacks
    assert shown(done) not in callbacks


async def test_a_quiet_day(make_client: ClientFactory, supervisor: Account) -> None:
    client = await make_client(clock=lambda: utc(2019, 1, 1, 12, 0))
    await signed_in(client, supervisor)
    page = html.unescape(await (await client.get("/supervisor")).text())
    assert figure(page, "calls") == "0"
    assert figure(page, "average_ivr_time") == "—"
