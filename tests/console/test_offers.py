"""The offer search in the console: the page, its JSON twin, the offer page, bad input, who may use them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.offers.importer import import_lines
from hotline.offers.models import JobOffer
from tests.console.conftest import Account, Client, signed_in
from tests.offers.feed_data import line, search_offers, unique_office

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def offer_ids(db_engine: AsyncEngine) -> dict[str, int]:
    office = unique_office()
    records = search_offers(office)
    await import_lines(db_engine, [line(r) for r in records.values()], today=NOW.date(), now=NOW)
    async with db_engine.connect() as conn:
        rows = await conn.execute(select(JobOffer.id, JobOffer.source_id).where(JobOffer.office_id == office))
        return {row.source_id.rsplit("/S", 1)[1]: row.id for row in rows}


async def test_the_json_search_finds_inflected_words_near_the_caller(
    client: Client, consultant: Account, offer_ids: dict[str, int]
) -> None:
    await signed_in(client, consultant)
    response = await client.get(
        "/offers/search.json", params={"q": "spawacza", "powiat": "2061", "typing": "1"}
    )
    assert response.status == 200
    body = await response.json()
    ours = [hit for hit in body["results"] if hit["reference"] in {f"OF-{offer_ids[x]}" for x in "AGH"}]
    assert [hit["reference"] for hit in ours] == [f"OF-{offer_ids['A']}", f"OF-{offer_ids['G']}"]
    first = ours[0]
    assert first["title"] == "Spawacz"
    assert first["place"] == "Białystok, powiat m. Białystok"
    assert first["near"] == "w powiecie dzwoniącego"
    assert first["why"] == "Pasuje: zawód"
    assert first["url"] == f"/offers/OF-{offer_ids['A']}"
    assert "zł brutto miesięcznie" in first["facts"][0]
    assert body["summary"].startswith("Znalezione oferty:")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "x" * 201}, "Wpisany tekst jest za długi"),
        ({"q": "spawacz", "powiat": "9999"}, "Nie ma takiego powiatu"),
        ({"q": "spawacz", "kind": "cars"}, "Nieprawidłowy filtr"),
        ({"q": "spawacz", "fresh": "-1"}, "Nieprawidłowy filtr"),
        ({"q": "spawacz", "working_time": "always"}, "Nieprawidłowy filtr"),
        ({"q": "spawacz\x00"}, "nieprawidłowe znaki"),
    ],
)
async def test_bad_input_gets_a_polish_message(
    client: Client, consultant: Account, params: dict[str, str], message: str
) -> None:
    await signed_in(client, consultant)
    response = await client.get("/offers/search.json", params=params)
    assert response.status == 400
    assert message in (await response.json())["error"]
    page = await client.get("/offers", params=params)
    assert page.status == 400
    assert message in await page.text()


async def test_the_page_works_without_script_and_allows_only_its_own(
    client: Client, supervisor: Account, offer_ids: dict[str, int]
) -> None:
    await signed_in(client, supervisor)
    response = await client.get("/offers", params={"q": "pielęgniarki", "scope": "country"})
    assert response.status == 200
    html = await response.text()
    assert f"OF-{offer_ids['C']}" in html
    assert "Szpital Specjalistyczny im. Ludwika Rydygiera" in html
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "default-src 'none'" in policy and "unsafe" not in policy
    assert "<script>" not in html  # no inline script: the only script is a file of the console
    home = await client.get("/")
    assert "script-src" not in home.headers["Content-Security-Policy"]


async def test_the_offer_page_reads_out_the_essentials_first(
    client: Client, consultant: Account, offer_ids: dict[str, int]
) -> None:
    await signed_in(client, consultant)
    response = await client.get(f"/offers/OF-{offer_ids['B']}")
    assert response.status == 200
    html = (await response.text()).split('id="content"', 1)[1]
    order = [
        html.index(text)
        for text in (
            "Kierowca samochodu ciężarowego",
            "Piaseczno",
            "5\u00a0000–6\u00a0500 zł brutto miesięcznie",
            "pełny etat",
            "CV na adres e-mail",
            f"OF-{offer_ids['B']}",
            "Transmet Sp. z o.o.",
        )
    ]
    assert order == sorted(order)
    for missing in ("/offers/OF-999999999", "/offers/XX-1", "/offers/OF-", "/offers/OF-99999999999"):
        assert (await client.get(missing)).status == 404, missing


async def test_signed_out_visitors_are_sent_to_sign_in(client: Client) -> None:
    for path in ("/offers", "/offers/search.json?q=spawacz", "/offers/OF-1"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 302, path
        assert response.headers["Location"].startswith("/login?next=")
