"""In real headless Chromium: a consultant types an inflected occupation and sees offers appear without
pressing Enter, then opens one with the keyboard; a signed-out visitor gets the sign-in page."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.offers.importer import import_lines
from hotline.offers.models import JobOffer
from tests.console.conftest import Account
from tests.console.test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, _need
from tests.offers.feed_data import line, search_offers, unique_office

pytestmark = pytest.mark.browser
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_a_consultant_finds_an_offer_as_she_types_and_opens_it(
    console_url: str, consultant: Account, db_engine: AsyncEngine
) -> None:
    _need(shutil.which(CHROMIUM) is not None, "Debian's chromium")
    try:
        from playwright.async_api import ConsoleMessage, async_playwright, expect
    except ImportError:
        _need(False, "the playwright package")
        raise
    office = unique_office()
    await import_lines(
        db_engine, [line(r) for r in search_offers(office).values()], today=NOW.date(), now=NOW
    )
    async with db_engine.connect() as conn:
        nurse = await conn.scalar(select(JobOffer.id).where(JobOffer.source_id == f"{office}/SC"))

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            visitor = await browser.new_page(locale="pl-PL")
            await visitor.goto(f"{console_url}/offers?q=spawacz")
            await expect(visitor.get_by_role("heading", name="Zaloguj się do konsoli")).to_be_visible()

            page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="pl-PL")
            errors: list[str] = []

            def record(message: ConsoleMessage) -> None:
                # The browser's own request for /favicon.ico (404) is not the page's doing.
                if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
                    errors.append(f"{message.text} ({message.location.get('url')})")

            page.on("console", record)
            await page.goto(f"{console_url}/login?next=/offers")
            # The sign-in form puts the cursor in the user name: type only once it is there.
            await expect(page.get_by_label("Nazwa użytkownika")).to_be_focused()
            await page.keyboard.type(consultant.username)
            await page.keyboard.press("Tab")
            await page.keyboard.type(consultant.password)
            await page.keyboard.press("Enter")
            await expect(page).to_have_url(f"{console_url}/offers")

            # The search field has the focus; type as the caller says it, and never press Enter.
            search = page.get_by_label("Zawód, pracodawca, miejscowość albo numer oferty")
            await expect(search).to_be_focused()
            await page.keyboard.type("pielęgniarki w Krakowie", delay=20)
            results = page.get_by_role("list", name="Wyniki wyszukiwania ofert")
            # Other tests' offers may share the database: look at this test's nurse.
            item = results.get_by_role("listitem").filter(has_text=f"OF-{nurse}")
            link = item.get_by_role("link", name="Pielęgniarka")
            await expect(link).to_have_count(1)
            await expect(item).to_contain_text("Szpital Specjalistyczny im. Ludwika Rydygiera")
            await expect(item).to_contain_text("Pasuje: zawód, miejscowość")
            await expect(page.get_by_role("status")).to_contain_text("Znalezione oferty:")
            await expect(results.get_by_role("link", name="Spawacz")).to_have_count(0)
            await page.screenshot(path=str(SCREENSHOTS / "console-offers.png"), full_page=True)

            # Keyboard only: arrow down through the results to this one, Enter to open it.
            await page.keyboard.press("ArrowDown")
            for _ in range(await results.get_by_role("link").count()):
                if await link.evaluate("element => element === document.activeElement"):
                    break
                await page.keyboard.press("ArrowDown")
            await expect(link).to_be_focused()
            await page.keyboard.press("Enter")
            await expect(page).to_have_url(f"{console_url}/offers/OF-{nurse}")
            await expect(page.get_by_role("heading", name="Pielęgniarka")).to_be_visible()
            await expect(page.get_by_text(f"OF-{nurse}", exact=True)).to_be_visible()
            await expect(page.get_by_text("część etatu")).to_be_visible()
            await page.screenshot(path=str(SCREENSHOTS / "console-offer.png"), full_page=True)
            assert errors == []  # nothing refused by the Content-Security-Policy, no script error
        finally:
            await browser.close()
