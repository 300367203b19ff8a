"""A call-back call is an inbound caller's call for the consultant: the placeholder carries what the dialplan
needs to play the recording notice and to record and transfer the call, and the recording's row and a
transfer's case card name the call in which the caller asked (the test database: SQLite or PostgreSQL); a
caller's export and erasure reach them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.callbacks import CallbackStore, Placement, placeholder_attempt, placeholder_originate
from hotline.db import Call, CallbackRequest
from hotline.personal_data import erase_number, export_number
from hotline.recordings import ERASED, NOTICE_PROMPT, Recordings
from hotline.transfers import CaseCards, Target, find_call
from ivr.callback_dialer import recording_notice
from ivr.menu import LanguageNode, load_menu
from tests.callbacks.test_store import Clock
from tests.console.helpers import unique_mobile
from tests.core.test_recordings import add_call, record, row_of
from tests.data import CATALOG, MENU_FILE, QUEUES

Sessions = async_sessionmaker[AsyncSession]
DAY = datetime(2011, 4, 5, 10, tzinfo=UTC)
TRAINING = Target("queue", "training", "training", code="72")


def placement(**changes: object) -> Placement:
    values: dict[str, object] = {
        "request_id": 12,
        "attempt": 1,
        "number": "+48600100200",
        "topic": "jobs",
        "language": "uk",
        "queue": "jobs-uk",
        "position": 2,
    }
    return Placement(**(values | changes))  # type: ignore[arg-type]


def test_the_placeholder_carries_the_notice_and_the_topic_for_the_dialplan() -> None:
    action = placeholder_originate(
        placement(),
        whisper="/s/pl/callback_whisper_jobs",
        notice="/s/uk/greeting",
        max_penalty=2,
        ring_seconds=9,
    )
    assert action.variables["HOTLINE_NOTICE"] == "/s/uk/greeting"
    assert action.variables["HOTLINE_TOPIC"] == "jobs"
    assert action.variables["CHANNEL(language)"] == "uk"
    assert action.other_channel_id == "cb-12-1-q"


def test_a_placeholders_queue_half_names_its_attempt() -> None:
    assert placeholder_attempt("cb-12-1-q") == "cb-12-1"
    for other in ("cb-12-1", "1764669600.42", "cb-12-1-q-q", "cb-x-1-q", "xcb-12-1-q", ""):
        assert placeholder_attempt(other) is None


def test_the_notice_is_the_greeting_in_the_requests_language_else_polish() -> None:
    languages = QUEUES.languages
    assert recording_notice("/snd/", "uk", languages) == f"/snd/uk/{NOTICE_PROMPT}"
    assert recording_notice("/snd", "pl", languages) == f"/snd/pl/{NOTICE_PROMPT}"
    assert recording_notice("/snd", "de", languages) == f"/snd/pl/{NOTICE_PROMPT}"
    assert recording_notice("/snd", "", languages) == f"/snd/pl/{NOTICE_PROMPT}"
    # A path the dialplan may not be given (Dial's options would split on it): no notice rather than that.
    assert recording_notice("/snd,x)", "pl", languages) == ""


def test_the_notice_is_the_prompt_the_inbound_call_plays_first_and_says_calls_are_recorded() -> None:
    menu = load_menu(MENU_FILE, CATALOG, QUEUES.names)
    first = menu.node(menu.root)
    assert isinstance(first, LanguageNode) and first.intro[0] == NOTICE_PROMPT
    assert "nagrywane" in CATALOG.text(NOTICE_PROMPT, "pl")


def test_a_consultant_talking_with_a_called_back_caller_has_a_call_to_transfer() -> None:
    channels = [
        {"Channel": "PJSIP/c1001-00000004", "Uniqueid": "1.4", "BridgeID": "b1"},
        {"Channel": "Local/hold@hotline-callback-hold-00000003;2", "Uniqueid": "cb-12-1-q", "BridgeID": "b1"},
        # A consultation's local channel is still no caller.
        {"Channel": "PJSIP/c1002-00000007", "Uniqueid": "1.7", "BridgeID": "b2"},
        {"Channel": "Local/72@hotline-transfer-00000001;2", "Uniqueid": "1.6", "BridgeID": "b2"},
    ]
    found = find_call(channels, "c1001")
    assert found is not None
    assert (found.caller_channel, found.caller_uniqueid) == (
        "Local/hold@hotline-callback-hold-00000003;2",
        "cb-12-1-q",
    )
    assert find_call(channels, "c1002") is None


@pytest.fixture
async def called_back(db_sessions: Sessions) -> AsyncIterator[tuple[str, int, str]]:
    """A caller who asked for a call-back in a call of theirs, and its first attempt: the number, the call's
    id and the placeholder's queue half."""
    number = unique_mobile()
    call = await add_call(db_sessions, DAY, number)
    store = CallbackStore(db_sessions, now=Clock())
    request = await store.book_in_queue(
        call.uniqueid, number=number, topic="jobs", language="pl", queue="jobs-pl", position=1
    )
    assert request is not None
    attempt = await store.start_attempt(request)
    assert attempt is not None
    yield number, call.id, f"{attempt.channel_id}-q"
    # The session's database is shared with the end-to-end tests, whose dialler would call it back.
    async with db_sessions() as session, session.begin():
        await session.execute(delete(CallbackRequest).where(CallbackRequest.id == request))


async def test_a_call_backs_recording_and_card_name_the_call_and_the_callers_erasure_reaches_them(
    db_sessions: Sessions, tmp_path: Path, called_back: tuple[str, int, str]
) -> None:
    number, call_id, queue_half = called_back
    recordings = Recordings(db_sessions, tmp_path)
    # The dialplan names the recording's call by the placeholder's queue half (no call's row has it).
    file = await record(recordings, Call(uniqueid=queue_half), DAY + timedelta(minutes=5))
    row = await row_of(db_sessions, file)
    assert (row.call_uniqueid, row.call_id) == (queue_half, call_id)
    card = await CaseCards(db_sessions).create(
        queue_half, TRAINING, mode="blind", source="phone", consultant=None, language="pl"
    )
    assert (card.caller_uniqueid, card.call_id) == (queue_half, call_id)

    exported = await export_number(db_sessions, number)
    assert [r["file"] for r in exported["recordings"]] == [row.path]
    assert [c["id"] for c in exported["case_cards"]] == [card.id]
    moment = datetime(2011, 4, 9, tzinfo=UTC)
    report = await erase_number(db_sessions, number, recordings=recordings, now=moment)
    assert (report.recordings, report.case_cards, report.callback_requests) == (1, 1, 1)
    assert not (tmp_path / row.path).exists()
    marked = await row_of(db_sessions, file)
    assert (marked.deleted_at, marked.deleted_reason) == (moment, ERASED)
