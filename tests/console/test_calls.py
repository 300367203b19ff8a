"""The consultant's pages: recent calls, search by number, one call with its path and history."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.console.conftest import Account, Client, signed_in
from tests.console.helpers import add_call, unique_mobile

WARSAW = ZoneInfo("Europe/Warsaw")


def national(number: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.NATIONAL)


def local(moment: datetime) -> str:
    return moment.astimezone(WARSAW).strftime("%d.%m.%Y %H:%M:%S")


async def test_home_lists_recent_calls_in_polish(
    client: Client, consultant: Account, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    number = unique_mobile()
    shown = await add_call(
        db_sessions,
        now - timedelta(minutes=3),
        caller_number=number,
        language="uk",
        topic="jobs",
        outcome="self_service",
        seconds=185,
    )
    withheld = await add_call(
        db_sessions, now - timedelta(minutes=2), withheld=True, outcome="hung_up_in_menu", seconds=42
    )
    ongoing = await add_call(
        db_sessions, now - timedelta(minutes=1), caller_number=unique_mobile(), outcome=None, seconds=None
    )
    await signed_in(client, consultant)
    response = await client.get("/")
    assert response.status == 200
    page = html.unescape(await response.text())
    assert local(shown.started_at) in page
    assert national(number) in page
    assert "ukraiński" in page
    assert "oferty pracy i poszukiwanie pracy" in page
    assert "obsłużone automatycznie" in page
    assert "3 min 05 s" in page
    assert f'href="/calls/{withheld.id}"' in page
    assert "numer zastrzeżony" in page
    assert "rozłączone w menu" in page
    assert "42 s" in page
    assert f'href="/calls/{ongoing.id}"' in page
    assert "w toku" in page and "trwa" in page
    # Newest first.
    assert (
        page.index(f"/calls/{ongoing.id}")
        < page.index(f"/calls/{withheld.id}")
        < page.index(f"/calls/{shown.id}")
    )


@pytest.mark.parametrize(
    "typed",
    [
        "{national}",
        "{e164}",
        "00{e164_digits}",
        "+48 {national}",
        "({national_dashes})",
        "  {national}  ",
        "{national_nbsp}",
    ],
)
async def test_search_by_number_finds_the_callers_calls(
    client: Client, consultant: Account, db_sessions: async_sessionmaker[AsyncSession], typed: str
) -> None:
    number = unique_mobile()
    other = unique_mobile()
    started = datetime.now(UTC) - timedelta(hours=1)
    first = await add_call(db_sessions, started, caller_number=number)
    second = await add_call(db_sessions, started + timedelta(minutes=5), caller_number=number)
    stranger = await add_call(db_sessions, started + timedelta(minutes=6), caller_number=other)
    await signed_in(client, consultant)
    text = typed.format(
        national=national(number),
        e164=number,
        e164_digits=number[1:],
        national_dashes=national(number).replace(" ", "-"),
        national_nbsp=national(number).replace(" ", "\u00a0"),
    )
    response = await client.get("/", params={"number": text})
    assert response.status == 200
    page = html.unescape(await response.text())
    assert f"Połączenia z numeru {national(number)}" in page
    assert f"/calls/{first.id}" in page and f"/calls/{second.id}" in page
    assert f"/calls/{stranger.id}" not in page


async def test_search_for_a_number_without_calls(client: Client, consultant: Account) -> None:
    await signed_in(client, consultant)
    page = html.unescape(await (await client.get("/", params={"number": "+48 22 999 00 11"})).text())
    assert "Brak połączeń z numeru 22 999 00 11." in page


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("<script>alert(1)</script>", "nie wygląda na numer telefonu"),
        ("jan kowalski", "nie wygląda na numer telefonu"),
        ("12", "nie wygląda na numer telefonu"),
        ("+", "nie wygląda na numer telefonu"),
        ("9" * 300, "za długi jak na numer telefonu"),
        ("   ", None),
    ],
)
async def test_search_with_garbage_says_so(
    client: Client, consultant: Account, typed: str, message: str | None
) -> None:
    await signed_in(client, consultant)
    response = await client.get("/", params={"number": typed})
    assert response.status == 200
    raw = await response.text()
    assert "<script>alert" not in raw
    if message:
        assert message in html.unescape(raw)
    assert "Ostatnie połączenia" in raw


async def test_search_with_broken_percent_encoding(client: Client, consultant: Account) -> None:
    await signed_in(client, consultant)
    response = await client.get("/?number=%FF%FE%00")
    assert response.status == 200
    assert "nie wygląda na numer telefonu" in html.unescape(await response.text())


async def test_a_call_shows_its_path_and_the_callers_history(
    client: Client, consultant: Account, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    number = unique_mobile()
    started = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    earlier = await add_call(
        db_sessions, started - timedelta(days=3), caller_number=number, outcome="abandoned"
    )
    stranger = await add_call(db_sessions, started - timedelta(days=2), caller_number=unique_mobile())
    call = await add_call(
        db_sessions,
        started,
        caller_number=number,
        answered_after=1,
        outcome="queued",
        queue="zasilki",
        steps=[
            (1, "welcome", None),
            (8, "language", "1"),
            (12, "main", "timeout"),
            (14, "main", "invalid:7"),
            (15, "topic", "2"),
            (21, "queue", None),
        ],
    )
    later = await add_call(
        db_sessions, started + timedelta(days=1), caller_number=number, outcome="self_service"
    )
    await signed_in(client, consultant)
    response = await client.get(f"/calls/{call.id}")
    assert response.status == 200
    page = html.unescape(await response.text())
    assert f"Połączenie z {national(number)}" in page
    assert "15.01.2026 10:30:00" in page  # 09:30 UTC is 10:30 in Warsaw in winter
    assert "zasilki" in page
    path = page[page.index("Przebieg w menu") : page.index("Wcześniejsze połączenia")]
    nodes = ["welcome", "language", "topic", "queue"]
    positions = [path.index(f"<code>{node}</code>") for node in nodes]
    assert positions == sorted(positions)
    assert "<kbd>1</kbd>" in path and "<kbd>2</kbd>" in path
    assert "brak wyboru" in path and "błędny klawisz <kbd>7</kbd>" in path
    assert "10:30:08" in path
    history = page[page.index("Wcześniejsze połączenia") :]
    assert f"/calls/{earlier.id}" in history and f"/calls/{later.id}" in history
    assert f'/calls/{call.id}"' not in history
    assert f"/calls/{stranger.id}" not in history
    assert "rozłączone w kolejce" in history


async def test_a_withheld_call_has_no_history(
    client: Client, consultant: Account, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    call = await add_call(db_sessions, datetime.now(UTC), withheld=True, steps=[(0, "welcome", None)])
    await add_call(db_sessions, datetime.now(UTC), withheld=True)
    await signed_in(client, consultant)
    page = html.unescape(await (await client.get(f"/calls/{call.id}")).text())
    assert "Połączenie z numer zastrzeżony" in page
    assert "Numer zastrzeżony: historii dzwoniącego nie da się ustalić." in page
    assert "anonymous" not in page


async def test_a_call_without_steps(
    client: Client, consultant: Account, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    call = await add_call(db_sessions, datetime.now(UTC), caller_number=unique_mobile())
    await signed_in(client, consultant)
    page = html.unescape(await (await client.get(f"/calls/{call.id}")).text())
    assert "Brak zapisanych kroków w menu." in page
    assert "To pierwsze połączenie z tego numeru." in page


@pytest.mark.parametrize(
    "path", ["/calls/0", "/calls/987654321", "/calls/999999999999", "/calls/9999999999999"]
)
async def test_a_missing_call_is_a_404(client: Client, consultant: Account, path: str) -> None:
    await signed_in(client, consultant)
    response = await client.get(path)
    assert response.status == 404
    assert "Nie ma takiej strony." in await response.text()


async def test_a_long_path_is_shown_a_page_at_a_time(
    client: Client, consultant: Account, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    steps: list[tuple[float, str, str | None]] = [(i, f"node{i:03d}", "1") for i in range(250)]
    call = await add_call(db_sessions, datetime.now(UTC), caller_number=unique_mobile(), steps=steps)
    await signed_in(client, consultant)

    first = html.unescape(await (await client.get(f"/calls/{call.id}")).text())
    assert "node000" in first and "node099" in first and "node100" not in first
    assert "Kroki 1–100 z 250" in first and 'href="?page=2"' in first

    last = html.unescape(await (await client.get(f"/calls/{call.id}?page=3")).text())
    assert "node249" in last and "node199" not in last and 'href="?page=4"' not in last
    # A page past the end, or no page at all, is no error.
    for page in ("99", "abc", "-1", "1" * 30):
        response = await client.get(f"/calls/{call.id}?page={page}")
        assert response.status == 200
