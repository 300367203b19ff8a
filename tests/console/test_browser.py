"""End to end in a real browser: Debian's Chromium, driven by Playwright, against a real console server.

Needs the Debian packages ``chromium`` (and ``chromium-driver``) and the pip package ``playwright``; never
``playwright install``. Skipped when they are missing, except under CI, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phonenumbers
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.console.conftest import Account
from tests.console.helpers import add_call, add_callback, unique_mobile

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(os.environ.get("HOTLINE_SCREENSHOTS", "/tmp"))

pytestmark = pytest.mark.browser


def _need(condition: bool, what: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing on this CI machine")
    pytest.skip(f"{what} is missing")


def _national(number: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.NATIONAL)


async def test_a_consultant_signs_in_searches_and_opens_a_call(
    console_url: str,
    consultant: Account,
    supervisor: Account,
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    _need(shutil.which(CHROMIUM) is not None, "Debian's chromium")
    try:
        from playwright.async_api import async_playwright, expect
    except ImportError:
        _need(False, "the playwright package")
        raise

    number = unique_mobile()
    now = datetime.now(UTC).replace(microsecond=0)
    earlier = await add_call(
        db_sessions, now - timedelta(days=1), caller_number=number, topic="registration", outcome="abandoned"
    )
    call = await add_call(
        db_sessions,
        now - timedelta(minutes=4),
        caller_number=number,
        language="pl",
        topic="registration",
        outcome="queued",
        answered_after=1,
        seconds=245,
        steps=[(1, "welcome", None), (6, "main", "timeout"), (9, "main", "2"), (17, "queue_benefits", None)],
    )
    # Started "now", so today's figures count it whenever the test runs.
    await add_call(db_sessions, now, withheld=True, outcome="hung_up_in_menu", seconds=20)
    await add_callback(db_sessions, unique_mobile(), now - timedelta(minutes=30), call_id=earlier.id)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="pl-PL")
            await page.goto(f"{console_url}/")
            await expect(page).to_have_url(f"{console_url}/login?next=/")
            await expect(page.get_by_role("heading", name="Zaloguj się do konsoli")).to_be_visible()

            # Keyboard only: the username field has the focus, Tab to the password, Enter to sign in.
            await expect(page.get_by_label("Nazwa użytkownika")).to_be_focused()
            await page.keyboard.type(consultant.username)
            await page.keyboard.press("Tab")
            await page.keyboard.type(consultant.password)
            await page.keyboard.press("Enter")

            await expect(page).to_have_url(f"{console_url}/")
            await expect(page.get_by_text("Zalogowano jako Anna Konsultantka")).to_be_visible()
            table = page.get_by_role("table", name="Ostatnie połączenia, najnowsze na górze")
            await expect(table).to_be_visible()
            await expect(table.get_by_text(_national(number)).first).to_be_visible()
            await expect(table.get_by_text("numer zastrzeżony").first).to_be_visible()
            await expect(page.get_by_role("link", name="Panel kierownika")).to_have_count(0)
            await page.screenshot(path=str(SCREENSHOTS / "console-home.png"), full_page=True)

            # The search field has the focus; type the number as a person would, with spaces.
            search = page.get_by_label("Szukaj po numerze telefonu")
            await expect(search).to_be_focused()
            await page.keyboard.type(_national(number))
            await page.keyboard.press("Enter")
            await expect(
                page.get_by_role("heading", name=f"Połączenia z numeru {_national(number)}")
            ).to_be_visible()
            results = page.get_by_role("table")
            await expect(results.get_by_role("row")).to_have_count(3)  # the header and two calls

            # Garbage in the search box gets a clear message.
            await page.keyboard.press("Alt+s")
            await expect(search).to_be_focused()
            await search.fill("jan kowalski")
            await page.keyboard.press("Enter")
            await expect(page.get_by_role("alert")).to_contain_text("nie wygląda na numer telefonu")

            # Back to the number, and open the newest call with the keyboard.
            await search.fill(number)
            await page.keyboard.press("Enter")
            link = page.get_by_role("link", name=f"Otwórz połączenie {call.id}")
            await link.focus()
            await page.keyboard.press("Enter")
            await expect(page).to_have_url(f"{console_url}/calls/{call.id}")
            await expect(
                page.get_by_role("heading", name=f"Połączenie z {_national(number)}")
            ).to_be_visible()
            await expect(page.get_by_text("queue_benefits")).to_be_visible()
            await expect(page.get_by_text("4 min 05 s").first).to_be_visible()
            history = page.get_by_role(
                "table", name="Inne połączenia z tego samego numeru, najnowsze na górze"
            )
            await expect(history.get_by_role("link", name=f"Otwórz połączenie {earlier.id}")).to_be_visible()
            await expect(history.get_by_text("rozłączone w kolejce")).to_be_visible()
            await page.screenshot(path=str(SCREENSHOTS / "console-call.png"), full_page=True)

            # The supervisor page is not for consultants.
            response = await page.goto(f"{console_url}/supervisor")
            assert response is not None and response.status == 403
            await expect(page.get_by_text("Nie masz uprawnień do tej strony.")).to_be_visible()

            # A supervisor sees the day's figures.
            boss = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="pl-PL")
            await boss.goto(f"{console_url}/login?next=/supervisor")
            await boss.get_by_label("Nazwa użytkownika").fill(supervisor.username)
            await boss.get_by_label("Hasło").fill(supervisor.password)
            await boss.get_by_role("button", name="Zaloguj").click()
            await expect(boss).to_have_url(f"{console_url}/supervisor")
            await expect(boss.get_by_role("heading", name="Oczekujące prośby o oddzwonienie")).to_be_visible()
            await expect(boss.locator("#figure-calls dd")).not_to_have_text("0")
            await boss.screenshot(path=str(SCREENSHOTS / "console-supervisor.png"), full_page=True)

            # Sign out with the keyboard shortcut's button.
            await page.goto(f"{console_url}/")
            await page.get_by_role("button", name="Wyloguj").press("Enter")
            await expect(page.get_by_text("Wylogowano.")).to_be_visible()
        finally:
            await browser.close()


async def test_chromium_stays_on_the_console_after_a_crafted_sign_in_link(
    console_url: str, consultant: Account
) -> None:
    """Issue 7, finding 2: ``next=/%09/evil.example`` once sent Chromium to another site after sign-in."""
    _need(shutil.which(CHROMIUM) is not None, "Debian's chromium")
    try:
        from playwright.async_api import async_playwright, expect
    except ImportError:
        _need(False, "the playwright package")
        raise

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(locale="pl-PL")
            for crafted in ("/%09/evil.example", "/%5C%5Cevil.example", "//evil.example"):
                await page.goto(f"{console_url}/login?next={crafted}")
                await page.get_by_label("Nazwa użytkownika").fill(consultant.username)
                await page.get_by_label("Hasło").fill(consultant.password)
                await page.get_by_role("button", name="Zaloguj").click()
                await expect(page).to_have_url(f"{console_url}/")
                await page.get_by_role("button", name="Wyloguj").click()
                await expect(page.get_by_text("Wylogowano.")).to_be_visible()
        finally:
            await browser.close()
