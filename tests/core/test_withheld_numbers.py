"""A caller who withholds their number (SIP ``Privacy: id``, Asterisk's ``CALLERID(pres)`` = ``prohib…``):
the AMI listener and the IVR store the call as withheld, keep the number only where the settings allow, and
never show it in the live state or use it to recognise a returning caller."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ami_listener import CallEventListener
from hotline.call_recorder import CallRecorder
from hotline.calls import NewCall
from hotline.db import Call
from hotline.phone import is_presentation_restricted, normalise_caller
from hotline.queues import Queues
from hotline.settings import Settings
from ivr.routes.ivr import route
from ivr.services import load_ivr_services
from tests.core.test_number_masking import (
    NUMBER,
    FakeRecorder,
    NoEvents,
    RouteEnvironment,
    assert_no_number,
    frame,
)
from tests.ivr.fakes import FakeChannel, HangUp, Press


class FakeLive:
    def __init__(self) -> None:
        self.changes: list[tuple[str, dict[str, object]]] = []

    def call_changed(self, kind: str, uniqueid: str, **fields: object) -> None:
        self.changes.append((kind, fields))


@pytest.mark.parametrize(
    ("presentation", "restricted"),
    [
        ("prohib_not_screened", True),
        ("prohib_passed_screen", True),
        ("prohib", True),
        ("allowed_not_screened", False),
        ("allowed", False),
        ("", False),
        (None, False),
    ],
)
def test_presentation_restricted_is_read_from_asterisks_words(
    presentation: str | None, restricted: bool
) -> None:
    assert is_presentation_restricted(presentation) is restricted


def test_a_restricted_number_is_kept_only_when_asked_and_stays_withheld() -> None:
    kept = normalise_caller("600123457", presentation_restricted=True, keep_restricted=True)
    assert kept.withheld and kept.e164 == NUMBER and kept.presented is None
    dropped = normalise_caller("600123457", presentation_restricted=True)
    assert dropped.withheld and dropped.e164 is None and dropped.raw == ""
    open_number = normalise_caller("600123457")
    assert not open_number.withheld and open_number.presented == NUMBER


@pytest.mark.parametrize(("policy", "stored"), [("record", NUMBER), ("drop", None)])
def test_the_listener_stores_a_restricted_number_as_withheld(
    policy: str, stored: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    recorder, live = FakeRecorder(), FakeLive()
    listener = CallEventListener(NoEvents(), recorder, Settings(withheld_numbers=policy), live)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO)
    listener.apply(
        frame(
            "UserEvent",
            "1700000001.1",
            UserEvent="HotlineCallEntered",
            Presentation="prohib_not_screened",
        )
    )
    kind, call = recorder.changes[0]
    assert kind == "entered" and isinstance(call, NewCall)
    assert call.caller.withheld
    assert call.caller.e164 == stored
    assert (call.caller.raw == NUMBER) is (policy == "record")
    assert live.changes == [("entered", {"caller": None, "withheld": True})]
    assert_no_number(caplog.records)


def test_the_listener_stores_an_allowed_number_as_open() -> None:
    recorder = FakeRecorder()
    listener = CallEventListener(NoEvents(), recorder, Settings())  # type: ignore[arg-type]
    listener.apply(
        frame(
            "UserEvent", "1700000001.2", UserEvent="HotlineCallEntered", Presentation="allowed_not_screened"
        )
    )
    call = recorder.changes[0][1]
    assert isinstance(call, NewCall)
    assert not call.caller.withheld and call.caller.e164 == NUMBER


@pytest.mark.parametrize(("policy", "stored"), [("record", NUMBER), ("drop", None)])
async def test_the_ivr_reads_the_presentation_and_stores_the_call_withheld(
    policy: str, stored: str | None, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = Settings(withheld_numbers=policy)
    recorder = FakeRecorder()
    services = load_ivr_services(
        settings,
        db_sessions,
        recorder,
        "/sounds",
        queues=Queues.load(settings.queues_file),
    )
    channel = FakeChannel([Press("1"), HangUp()], env=RouteEnvironment(callerid=NUMBER))
    channel.variables["CALLERID(pres)"] = "prohib_not_screened"
    await route(services)(channel)  # type: ignore[arg-type]
    kind, call = recorder.changes[0]
    assert kind == "entered" and isinstance(call, NewCall)
    assert call.caller.withheld and call.caller.e164 == stored


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="withheld_numbers"):
        Settings(withheld_numbers="show")


async def test_a_withheld_call_is_never_linked_to_the_callers_other_calls(db_engine: AsyncEngine) -> None:
    """The link to a caller's previous call would give a withheld number away, in both directions."""
    recorder = CallRecorder(db_engine)
    recorder.start()
    number = f"+4869{uuid4().int % 10**7:07d}"
    start = datetime.now(UTC)
    ids = [f"link-{uuid4().hex[:10]}-{n}" for n in range(3)]
    callers = [
        normalise_caller(number),
        normalise_caller(number, presentation_restricted=True, keep_restricted=True),
        normalise_caller(number),
    ]
    try:
        for n, (uniqueid, caller) in enumerate(zip(ids, callers, strict=True)):
            recorder.entered(NewCall(uniqueid, caller, started_at=start + timedelta(seconds=n)))
            await recorder.drain()
    finally:
        await recorder.close()
    async with db_engine.connect() as connection:
        rows = {
            uniqueid: (call_id, previous)
            for call_id, uniqueid, previous in await connection.execute(
                select(Call.id, Call.uniqueid, Call.previous_call_id).where(Call.uniqueid.in_(ids))
            )
        }
    first, withheld, third = (rows[uniqueid] for uniqueid in ids)
    assert withheld[1] is None
    assert third[1] == first[0]
