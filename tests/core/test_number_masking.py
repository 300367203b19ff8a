"""Phone numbers never reach the log whole: the listener's, the IVR's and the call recorder's lines show
them masked (:func:`hotline.phone.mask`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami_listener import CallEventListener
from hotline.ami import AmiEvent, parse_event
from hotline.call_recorder import entered_change
from hotline.calls import NewCall
from hotline.outcomes import CallOutcome
from hotline.phone import mask, normalise_caller
from hotline.queues import Queues
from hotline.settings import Settings
from ivr.routes.ivr import route
from ivr.services import load_ivr_services
from tests.ivr.fakes import FakeChannel, FakeEnvironment, HangUp, Press

NUMBER = "+48600123457"
# Every form a log line could carry it in.
FORMS = ("+48600123457", "48600123457", "600123457", "600 123 457")


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+48600123457", "+48******457"),
        ("+380441234567", "+380******567"),
        ("600123457", "******457"),
        ("0048600123457", "**********457"),
        ("12", "**"),
        ("anonymous", "withheld"),
        ("", "-"),
        (None, "-"),
        ("'; DROP TABLE calls; -- 600123457", "******457"),
    ],
)
def test_mask_keeps_the_country_code_and_the_last_three_digits(number: str | None, masked: str) -> None:
    assert mask(number) == masked


def assert_no_number(records: Sequence[logging.LogRecord]) -> None:
    lines = [record.getMessage() for record in records if record.levelno >= logging.INFO]
    assert lines, "the test saw no log lines at all"
    for line in lines:
        for form in FORMS:
            assert form not in line, line


class FakeRecorder:
    """The call recorder's interface as the listener and the IVR use it; keeps what it was told."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, object]] = []

    def entered(self, call: NewCall) -> None:
        self.changes.append(("entered", call))

    def answered(self, uniqueid: str, at: datetime | None = None) -> None:
        self.changes.append(("answered", uniqueid))

    def queued(self, uniqueid: str, queue: str) -> None:
        self.changes.append(("queued", queue))

    def outcome(self, uniqueid: str, outcome: CallOutcome) -> None:
        self.changes.append(("outcome", outcome))

    def ended(self, uniqueid: str, cause: int | None, at: datetime | None = None) -> None:
        self.changes.append(("ended", cause))

    def menu(self, uniqueid: str, steps: Sequence[object], **fields: str | None) -> None:
        self.changes.append(("menu", fields))

    def callback_requested(self, uniqueid: str, **fields: object) -> None:
        self.changes.append(("callback", fields))


class NoEvents:
    def subscribe(self, maxsize: int = 0) -> asyncio.Queue[AmiEvent]:
        return asyncio.Queue()

    def unsubscribe(self, queue: asyncio.Queue[AmiEvent]) -> None:
        pass


def frame(event: str, uniqueid: str, **fields: str) -> AmiEvent:
    base = {
        "Event": event,
        "Uniqueid": uniqueid,
        "Linkedid": uniqueid,
        "Channel": "PJSIP/loopback-00000001",
        "CallerIDNum": NUMBER,
        "CallerIDName": "Test",
        "Context": "hotline",
        "Exten": "19524",
    }
    parsed = parse_event({**base, **fields})
    assert parsed is not None
    return parsed


@pytest.mark.parametrize("caller_id", [NUMBER, "600123457"])
async def test_the_listeners_log_lines_never_carry_the_callers_number(
    caplog: pytest.LogCaptureFixture, caller_id: str
) -> None:
    recorder = FakeRecorder()
    listener = CallEventListener(NoEvents(), recorder, Settings())  # type: ignore[arg-type]
    caplog.set_level(logging.DEBUG)
    uniqueid = "1700000000.7"
    for event in (
        frame("UserEvent", uniqueid, UserEvent="HotlineCallEntered", CallerIDNum=caller_id),
        frame("Newstate", uniqueid, ChannelState="6", ChannelStateDesc="Up"),
        frame("QueueCallerJoin", uniqueid, Queue="consultant", Position="1", Count="1"),
        frame("UserEvent", uniqueid, UserEvent="HotlineFallback", Reason="FAILURE/"),
        frame("Hangup", uniqueid, Cause="16", **{"Cause-txt": "Normal Clearing"}),
    ):
        listener.apply(event)
    assert ("entered", "queued") == (recorder.changes[0][0], recorder.changes[2][0])
    assert_no_number(caplog.records)
    assert any(mask(NUMBER) in record.getMessage() for record in caplog.records)


@dataclass(frozen=True)
class RouteEnvironment(FakeEnvironment):
    """What the IVR route reads of the AGI environment besides what the interpreter reads."""

    channel: str = "PJSIP/loopback-00000001"
    extension: str = "19524"


async def test_the_ivrs_log_lines_never_carry_the_callers_number(
    caplog: pytest.LogCaptureFixture, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = Settings()
    recorder = FakeRecorder()
    services = load_ivr_services(
        settings,
        db_sessions,
        recorder,  # type: ignore[arg-type]
        "/sounds",
        queues=Queues.load(settings.queues_file),
    )
    channel = FakeChannel([Press("1"), HangUp()], env=RouteEnvironment(callerid=NUMBER))
    caplog.set_level(logging.DEBUG)
    await route(services)(channel)  # type: ignore[arg-type]
    assert recorder.changes[0][0] == "entered"
    assert_no_number(caplog.records)


def test_a_dropped_change_is_logged_without_the_number() -> None:
    """The batching writer logs a change it gives up on: that line must not carry the number either."""
    change = entered_change(NewCall(uniqueid="1700000000.8", caller=normalise_caller(NUMBER)))
    text = str(change)
    assert "1700000000.8" in text
    for form in FORMS:
        assert form not in text
