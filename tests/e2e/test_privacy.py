"""Personal data on the real Asterisk, over real SIP: a caller who withholds their number (``Privacy: id``) is
stored as withheld and hidden from consultants, the live state never shows their number, and what Asterisk
writes about calls (logs, queue_log, recordings) is no other local user's to read."""

from __future__ import annotations

import stat
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from agent_console.formatting import Formatter
from agent_console.queries import call_detail, calls_from
from agent_console.texts import load_texts
from devtools.testcall import place_test_call
from hotline.db import Call
from launcher.runner import Hotline
from tests.e2e.conftest import eventually
from tests.e2e.test_call_flow import stored_call


async def test_a_caller_who_sends_privacy_id_is_stored_withheld_and_hidden_from_consultants(
    hotline: Hotline,
) -> None:
    assert hotline.ami is not None and hotline.live is not None and hotline.services is not None
    number = "+48600121314"
    position, _ = await hotline.live.snapshot()
    result = await place_test_call(hotline.ami, "19524", ["1", "0"], caller=number, withheld=True)
    assert result.answered and result.queue == "consultant"

    call = await stored_call(hotline, result.uniqueid or "")
    # Kept for the call's record (withheld_numbers = "record"), marked withheld.
    assert call.caller_withheld
    assert call.caller_number == number

    # The live state (what a wallboard shows) never carries it.
    async def entered() -> dict[str, object] | None:
        for _, event in await hotline.live.changes(position):  # type: ignore[union-attr]
            if event["uniqueid"] == call.uniqueid and event["kind"] == "entered":
                return event
        return None

    event = await eventually(entered, what="the call's entry in the live stream")
    assert event["caller"] is None and event["withheld"] is True

    # The console: "numer zastrzeżony", and searching the number does not find the call.
    formatter = Formatter(texts=load_texts(), timezone=ZoneInfo("Europe/Warsaw"))
    async with hotline.services.sessions() as db:
        assert formatter.caller(call) == "numer zastrzeżony"
        assert call.id not in [found.id for found in await calls_from(db, number)]
        detail = await call_detail(db, call.id)
    assert detail is not None and list(detail.history) == []


async def test_a_caller_who_presents_their_number_is_stored_open(hotline: Hotline) -> None:
    """The same call without ``Privacy: id``: the number is the caller's to show."""
    assert hotline.ami is not None and hotline.services is not None
    number = "+48600121315"
    result = await place_test_call(hotline.ami, "19524", ["1", "0"], caller=number)
    call = await stored_call(hotline, result.uniqueid or "")
    assert not call.caller_withheld and call.caller_number == number
    async with hotline.services.sessions() as db:
        assert call.id in [found.id for found in await calls_from(db, number)]
        stored = await db.scalar(select(Call).where(Call.id == call.id))
    assert stored is not None


def readable_by_others(folder: Path) -> list[str]:
    return [
        f"{oct(stat.S_IMODE(path.lstat().st_mode))} {path}"
        for path in (folder, *folder.rglob("*"))
        if not path.is_symlink() and stat.S_IMODE(path.lstat().st_mode) & 0o007
    ]


async def test_what_asterisk_writes_about_calls_is_not_world_readable(hotline: Hotline) -> None:
    assert hotline.ami is not None
    result = await place_test_call(
        hotline.ami,
        "19524",
        ["1", "0"],
        caller="+48600121316",
        recordings_dir=hotline.asterisk_path("spool", "monitor"),
    )
    assert result.recording is not None and result.recording.exists()
    await stored_call(hotline, result.uniqueid or "")
    wrong = []
    for folder in ("log", "spool", "lib"):
        wrong += readable_by_others(hotline.asterisk_path(folder))
    assert wrong == []
