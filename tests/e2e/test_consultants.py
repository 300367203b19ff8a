"""Consultants answer: real SIP phones (baresip) register to the hotline's Asterisk as consultants, log in to
their queues, and callers who chose a topic and a language reach the right one, through Asterisk's own
penalties and queue rule.

One hotline for the module, with short routing times (the queues file is the shipped one with its seconds
shortened), and four consultants:

    uk_jobs   jobs in Ukrainian (expert) and Polish      pl_jobs   jobs in Polish (expert)
    uk_other  registration in Ukrainian                  pl_other  training in Polish
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from devtools.testcall import TestCallResult, place_test_call
from hotline.ami import actions
from hotline.consultants import ConsultantInfo
from hotline.db import ConsultantStateChange
from hotline.queues import NO_ANSWER
from launcher.runner import Hotline
from tests.e2e.conftest import (
    Desk,
    ami_events,
    consultant_desks,
    current,
    eventually,
    hang_up,
    log_in,
    next_connect,
    queues_file,
    running_hotline,
)

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/baresip").exists(), reason="baresip (Debian baresip-core) is not installed"
)

# Seconds: the caller's own language's other topics after LANGUAGE_AFTER, anyone after ANYONE_AFTER.
LANGUAGE_AFTER = 4
ANYONE_AFTER = 8
RING_SECONDS = 4

CONSULTANTS = {
    "uk_jobs": ["jobs:uk:3", "jobs:pl:2"],
    "pl_jobs": ["jobs:pl:3"],
    "uk_other": ["registration:uk:2"],
    "pl_other": ["training:pl:2"],
}
UK_JOBS = ["2", "1", "0"]  # Ukrainian, job offers, a consultant
PL_JOBS = ["1", "1", "0"]


@pytest.fixture(scope="module")
async def desks(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Hotline, dict[str, Desk]]]:
    folder = tmp_path_factory.mktemp("consultants")
    routing = [
        {"after": 0, "reach": "topic"},
        {"after": LANGUAGE_AFTER, "reach": "language"},
        {"after": ANYONE_AFTER, "reach": "anyone"},
    ]
    queues = queues_file(folder, routing=routing, ring_seconds=RING_SECONDS, wrapup_seconds=0)
    async with (
        running_hotline(database_url, folder / "state", "consultants", queues_file=queues) as hotline,
        consultant_desks(hotline, folder, CONSULTANTS) as desks,
    ):
        yield hotline, desks


@pytest.fixture
async def hotline(desks: tuple[Hotline, dict[str, Desk]]) -> AsyncIterator[Hotline]:
    """The module's hotline, every consultant logged out after each test."""
    hotline, by_name = desks
    yield hotline
    assert hotline.consultant_states is not None
    for desk in by_name.values():
        info = await current(hotline, desk)
        if info.logged_in:
            await hotline.consultant_states.log_out(info, source="cli")
        await desk.phone.set_answer(True)


@pytest.fixture
def desk(desks: tuple[Hotline, dict[str, Desk]]) -> dict[str, Desk]:
    return desks[1]


async def queued_call(hotline: Hotline, digits: list[str]) -> TestCallResult:
    """A caller who chose ``digits`` and now waits in a queue (still on the line)."""
    assert hotline.ami is not None
    result = await place_test_call(hotline.ami, "19524", digits, until="queue", hang_up=False, timeout=60)
    assert result.asterisk_queue is not None, result.describe()
    return result


async def test_a_ukrainian_caller_reaches_the_ukrainian_consultant_of_the_topic_first(
    hotline: Hotline, desk: dict[str, Desk]
) -> None:
    await log_in(hotline, desk["pl_jobs"], desk["uk_other"], desk["uk_jobs"])
    async with ami_events(hotline) as seen:
        call = await queued_call(hotline, UK_JOBS)
        try:
            assert call.asterisk_queue == "jobs-uk"
            connect = await next_connect(seen, uniqueid=call.uniqueid)
            assert connect.interface == desk["uk_jobs"].info.interface
        finally:
            await hang_up(hotline, call)
    stored = await eventually(lambda: stored_queue(hotline, call), what="the call's record")
    assert stored == "jobs"


async def stored_queue(hotline: Hotline, call: TestCallResult) -> str | None:
    from hotline.db import Call

    assert hotline.consultants is not None
    async with hotline.consultants.sessions() as session:
        return await session.scalar(select(Call.queue).where(Call.uniqueid == call.uniqueid))


async def test_with_no_one_of_the_topic_and_language_the_search_widens_in_steps(
    hotline: Hotline, desk: dict[str, Desk]
) -> None:
    # Step 2 (the caller's language, another topic): the Ukrainian consultant of registration.
    await log_in(hotline, desk["uk_other"], desk["pl_jobs"])
    async with ami_events(hotline) as seen:
        call = await queued_call(hotline, UK_JOBS)
        try:
            connect = await next_connect(seen, uniqueid=call.uniqueid)
            assert connect.interface == desk["uk_other"].info.interface
            assert connect.hold_time is not None and connect.hold_time >= LANGUAGE_AFTER
        finally:
            await hang_up(hotline, call)
    # Step 3 (anyone): only a Polish consultant of another topic is in.
    assert hotline.consultant_states is not None
    await hotline.consultant_states.log_out(await current(hotline, desk["uk_other"]), source="console")
    await hotline.consultant_states.log_out(await current(hotline, desk["pl_jobs"]), source="console")
    await log_in(hotline, desk["pl_other"])
    async with ami_events(hotline) as seen:
        call = await queued_call(hotline, UK_JOBS)
        try:
            connect = await next_connect(seen, uniqueid=call.uniqueid)
            assert connect.interface == desk["pl_other"].info.interface
            assert connect.hold_time is not None and connect.hold_time >= ANYONE_AFTER
        finally:
            await hang_up(hotline, call)


async def test_a_consultant_who_lets_it_ring_out_is_paused_and_the_caller_reaches_the_next(
    hotline: Hotline, desk: dict[str, Desk]
) -> None:
    await desk["pl_jobs"].phone.set_answer(False)
    await log_in(hotline, desk["pl_jobs"], desk["uk_jobs"])
    async with ami_events(hotline) as seen:
        call = await queued_call(hotline, PL_JOBS)
        try:
            connect = await next_connect(seen, uniqueid=call.uniqueid)
        finally:
            await hang_up(hotline, call)
    # pl_jobs (expert, penalty 0) rang first and rang out; uk_jobs (Polish level 2) answered.
    assert connect.interface == desk["uk_jobs"].info.interface
    info = await eventually(
        lambda: paused_for(hotline, desk["pl_jobs"], NO_ANSWER), what="the no-answer pause recorded"
    )
    assert info.logged_in and info.pause_reason == NO_ANSWER
    members = await queue_members(hotline, "jobs-pl")
    assert members[desk["pl_jobs"].info.interface]["Paused"] == "1"
    assert members[desk["pl_jobs"].info.interface]["PausedReason"] == NO_ANSWER


async def paused_for(hotline: Hotline, desk: Desk, reason: str) -> ConsultantInfo | None:
    info = await current(hotline, desk)
    return info if info.paused and info.pause_reason == reason else None


async def queue_members(hotline: Hotline, queue: str) -> dict[str, dict[str, Any]]:
    assert hotline.ami is not None
    response = await hotline.ami.send(actions.QueueStatus(queue=queue))
    return {
        str(e.get("Interface") or e.get("Location")): dict(e)
        for e in response.events
        if e.get("Event") == "QueueMember"
    }


async def test_pause_and_available_change_who_is_offered_calls(
    hotline: Hotline, desk: dict[str, Desk]
) -> None:
    states = hotline.consultant_states
    assert states is not None
    await log_in(hotline, desk["pl_jobs"], desk["uk_jobs"])
    await states.pause(await current(hotline, desk["pl_jobs"]), "break", source="console")
    async with ami_events(hotline) as seen:
        call = await queued_call(hotline, PL_JOBS)
        try:
            connect = await next_connect(seen, uniqueid=call.uniqueid)
            assert connect.interface == desk["uk_jobs"].info.interface
        finally:
            await hang_up(hotline, call)
    await states.available(await current(hotline, desk["pl_jobs"]), source="console")
    async with ami_events(hotline) as seen:
        call = await queued_call(hotline, PL_JOBS)
        try:
            connect = await next_connect(seen, uniqueid=call.uniqueid)
            assert connect.interface == desk["pl_jobs"].info.interface
        finally:
            await hang_up(hotline, call)


async def test_feature_codes_from_the_phone_log_in_pause_and_come_back(
    hotline: Hotline, desk: dict[str, Desk]
) -> None:
    me = desk["uk_other"]
    for code, expected in (
        ("*1", "available"),
        ("*31", "paused:break"),
        ("*4", "available"),
        ("*2", "logged_out"),
    ):
        await me.phone.dial(code)
        await eventually(
            lambda e=expected: state_is(hotline, me, e), what=f"{code} makes {me.info.username} {expected}"
        )
        await me.phone.wait_for("CALL_CLOSED", timeout=30)
    assert hotline.consultants is not None
    async with hotline.consultants.sessions() as session:
        sources = list(
            await session.scalars(
                select(ConsultantStateChange.source).where(ConsultantStateChange.consultant_id == me.info.id)
            )
        )
    assert "phone" in sources


async def state_is(hotline: Hotline, desk: Desk, state: str) -> bool:
    return (await current(hotline, desk)).state == state


async def test_a_consultants_phone_reaches_no_number_and_no_caller(
    hotline: Hotline, desk: dict[str, Desk]
) -> None:
    phone = desk["pl_other"].phone
    for target in ("+48226000000", "0048226000000", "19524", "c1002"):
        await phone.dial(target)
        closed = await phone.wait_for("CALL_CLOSED", "CALL_ESTABLISHED", timeout=30)
        assert closed.type == "CALL_CLOSED", (target, closed.fields)


async def test_after_asterisk_restarts_the_consultants_are_back_in_their_queues_as_they_were(
    hotline: Hotline, desk: dict[str, Desk]
) -> None:
    states = hotline.consultant_states
    assert states is not None and hotline.asterisk is not None
    await log_in(hotline, desk["pl_jobs"], desk["uk_jobs"])
    await states.pause(await current(hotline, desk["uk_jobs"]), "training", source="console")
    before = await queue_members(hotline, "jobs-uk")

    states.restored.clear()
    await hotline.asterisk.stop()
    await hotline.asterisk.start()
    await asyncio.wait_for(states.restored.wait(), 60)

    after = await queue_members(hotline, "jobs-uk")
    assert set(after) == set(before) == {desk["pl_jobs"].info.interface, desk["uk_jobs"].info.interface}
    for interface in before:
        for key in ("Penalty", "Paused", "PausedReason"):
            assert after[interface][key] == before[interface][key], (interface, key)
    assert after[desk["uk_jobs"].info.interface]["PausedReason"] == "training"
