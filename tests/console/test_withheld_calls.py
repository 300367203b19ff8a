"""A caller who withheld their number (SIP ``Privacy: id``): the call's record may keep the number (the
default, ``withheld_numbers = "record"``), but consultants see "numer zastrzeżony" and nothing that gives the
number away: not on the calls list, not on the call's page, not by searching the number, not in the history of
the same number's open calls."""

from __future__ import annotations

import html
import random
from datetime import UTC, datetime, timedelta

import phonenumbers
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.db import Call
from tests.console.conftest import Account, Client, signed_in
from tests.console.helpers import add_call, unique_mobile


def forms(number: str) -> list[str]:
    parsed = phonenumbers.parse(number)
    return [
        number,
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
        phonenumbers.national_significant_number(parsed),
    ]


async def add_withheld_call_with_number(
    sessions: async_sessionmaker[AsyncSession], number: str, started_at: datetime
) -> Call:
    call = Call(
        uniqueid=f"test-withheld-{random.randrange(10**12)}",
        caller_number=number,
        caller_withheld=True,
        caller_raw=number,
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=40),
        outcome="queued",
        queue="consultant",
        dialed="19524",
    )
    async with sessions() as db, db.begin():
        db.add(call)
    return call


async def test_a_withheld_number_is_never_shown_to_consultants(
    client: Client, consultant: Account, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    number = unique_mobile()
    open_call = await add_call(db_sessions, now - timedelta(hours=2), caller_number=number)
    withheld = await add_withheld_call_with_number(db_sessions, number, now - timedelta(minutes=1))
    await signed_in(client, consultant)

    home = html.unescape(await (await client.get("/")).text())
    assert f'href="/calls/{withheld.id}"' in home
    call_page = html.unescape(await (await client.get(f"/calls/{withheld.id}")).text())
    assert "numer zastrzeżony" in call_page
    for page in (home.split(f'href="/calls/{withheld.id}"')[1].split("</tr>")[0], call_page):
        for form in forms(number):
            assert form not in page

    found = html.unescape(await (await client.get("/", params={"number": number})).text())
    assert f'href="/calls/{open_call.id}"' in found
    assert f'href="/calls/{withheld.id}"' not in found

    history = html.unescape(await (await client.get(f"/calls/{open_call.id}")).text())
    assert f'href="/calls/{withheld.id}"' not in history
