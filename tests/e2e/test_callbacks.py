"""Call-backs that keep the caller's place, end to end: callers on real SIP (the loopback trunk), a
consultant's real phone (baresip), and the caller called back over the outbound trunk to a carrier of its own
(a second Asterisk on 127.0.0.2, devtools/carrier.py), which answers, or for numbers +48500… lets it
ring."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from devtools.carrier import Carrier
from devtools.testcall import TestCallResult, place_test_call, press, random_caller
from hotline.ami import AmiEvent, Newexten, QueueCallerJoin
from hotline.callbacks import CallbackStore
from hotline.db import CallbackRequest, Recording
from hotline.recordings import NOTICE_PROMPT, file_digest
from hotline.transfers import BLIND_FEATURE
from ivr.callback_dialer import CallbackDialer
from launcher.runner import Hotline
from tests.e2e.conftest import (
    WORKING_DAY,
    Desk,
    TestClock,
    ami_events,
    consultant_desks,
    eventually,
    hang_up,
    log_in,
    log_out,
    next_connect,
    queues_file,
    received_by_carrier,
    trunked_hotline,
)
from tests.e2e.test_recordings import band_rms, tone
from tests.e2e.test_transfers import bridged_with, caller_bridged

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/baresip").exists(), reason="baresip (Debian baresip-core) is not installed"
)

PL_JOBS = ["1", "1", "0"]  # Polish, job offers, a consultant


# The consultants' phones send a tone of their own (their side of the talk, in the recordings).
CONSULTANT_HZ = 1400


@pytest.fixture(scope="module")
async def desks(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Hotline, Carrier, dict[str, Desk]]]:
    """The hotline, its carrier, and two consultants: "cb" (jobs, who takes the call-backs) and
    "cb_training" (training, logged in only by the test of a transfer)."""
    folder = tmp_path_factory.mktemp("callbacks")
    queues = queues_file(folder, ring_seconds=10, wrapup_seconds=0)
    async with (
        trunked_hotline(
            database_url,
            folder,
            "callbacks",
            queues_file=queues,
            callback_attempts=2,
            callback_retry_seconds=1,
            callback_ring_seconds=4,
            callback_poll_seconds=0.5,
        ) as (hotline, carrier),
        consultant_desks(
            hotline,
            folder,
            {"cb": ["jobs:pl:3"], "cb_training": ["training:pl:3"]},
            sound=tone(folder / "consultant.wav", CONSULTANT_HZ, 60),
        ) as desks,
    ):
        yield hotline, carrier, desks


@pytest.fixture
def setup(desks: tuple[Hotline, Carrier, dict[str, Desk]]) -> tuple[Hotline, Carrier, Desk]:
    hotline, carrier, by_name = desks
    return hotline, carrier, by_name["cb"]


async def waiting_caller(hotline: Hotline, caller: str) -> TestCallResult:
    assert hotline.ami is not None
    result = await place_test_call(hotline.ami, "19524", PL_JOBS, caller=caller, until="queue", hang_up=False)
    assert result.asterisk_queue == "jobs-pl", result.describe()
    return result


async def test_three_callers_the_middle_one_asks_for_a_call_back_and_they_are_served_in_order(
    setup: tuple[Hotline, Carrier, Desk],
) -> None:
    hotline, carrier, consultant = setup
    assert hotline.ami is not None and hotline.callbacks is not None
    numbers = [random_caller() for _ in range(3)]
    at_carrier = carrier.subscribe()
    try:
        async with ami_events(hotline) as events:
            first = await waiting_caller(hotline, numbers[0])
            second = await waiting_caller(hotline, numbers[1])
            third = await waiting_caller(hotline, numbers[2])
            await press(hotline.ami, second, hotline.callbacks.queues.callback_key)
            requests = await eventually(
                lambda: waiting_request(hotline, numbers[1]), what="the placeholder waits"
            )
            assert requests.position == 2

            await log_in(hotline, consultant)
            served = []
            for expected in (first, None, third):
                connect = await next_connect(events, timeout=60)
                served.append(connect.uniqueid)
                if expected is None:  # the call-back: the carrier rings the second caller, who answers
                    await received_by_carrier(carrier, at_carrier, numbers[1])
                    await asyncio.sleep(0)
                await hang_up(hotline, connect.uniqueid if expected is not None else connect.uniqueid[:-2])
            assert served[0] == first.uniqueid
            assert served[1].startswith("cb-") and served[1].endswith("-q")
            assert served[2] == third.uniqueid
    finally:
        carrier.ami.unsubscribe(at_carrier)
        await log_out(hotline, consultant)
    store: CallbackStore = hotline.callbacks.store
    (request,) = await store.requests_for(numbers[1])
    assert request.status == "done" and request.kind == "in_queue"
    history = await store.history(request.id)
    assert [(a.attempt, a.result, a.consultant) for a in history] == [
        (1, "answered", consultant.info.interface)
    ]


async def completed_recordings(hotline: Hotline, call: str, count: int) -> list[Recording] | None:
    """The ``count`` recordings of the call ``call`` once all are complete (their checksums stored)."""
    assert hotline.consultants is not None
    async with hotline.consultants.sessions() as session:
        rows = list(
            await session.scalars(
                select(Recording).where(Recording.call_uniqueid == call).order_by(Recording.id)
            )
        )
    return rows if len(rows) == count and all(row.sha256 is not None for row in rows) else None


async def notice_played(events: asyncio.Queue[AmiEvent], seen: list[Newexten]) -> bool:
    """Whether the recording notice was played to the caller's leg to its end ([hotline-callback-notice],
    which Dial's U runs on the called side once the caller answered, before putting them through)."""
    while not events.empty():
        event = events.get_nowait()
        if isinstance(event, Newexten) and event.context == "hotline-callback-notice":
            seen.append(event)
    return [e.application for e in seen] == ["Playback", "Return"]


async def test_a_call_back_is_recorded_and_the_caller_hears_the_recording_notice_first(
    setup: tuple[Hotline, Carrier, Desk],
) -> None:
    """As an inbound call with a consultant: the caller, called back, hears the notice that calls are
    recorded (the greeting's prompt, in the request's language) once they answer and before the consultant;
    the call is recorded, its row names the placeholder's channel and the call in which the caller asked."""
    hotline, carrier, consultant = setup
    assert hotline.ami is not None and hotline.callbacks is not None and hotline.recordings is not None
    number = random_caller()
    caller = await waiting_caller(hotline, number)
    await press(hotline.ami, caller, hotline.callbacks.queues.callback_key)
    request = await eventually(lambda: waiting_request(hotline, number), what="the placeholder waits")
    assert request.call_id is not None and request.language == "pl"
    at_carrier = carrier.subscribe()
    notice: list[Newexten] = []
    try:
        async with ami_events(hotline) as events:
            await log_in(hotline, consultant)
            connect = await next_connect(events, consultant, timeout=60)
            placeholder = connect.uniqueid  # its queue half, which the consultant talks to
            assert placeholder == f"cb-{request.id}-1-q"
            await received_by_carrier(carrier, at_carrier, number)
            await eventually(lambda: notice_played(events, notice), timeout=40, what="the notice played")
            await eventually(
                lambda: caller_bridged(hotline, placeholder[:-2]), timeout=40, what="the caller put through"
            )
            await hang_up(hotline, placeholder[:-2])
    finally:
        carrier.ami.unsubscribe(at_carrier)
        await log_out(hotline, consultant)
    # Played on the caller's leg (the outbound call's channel), in Polish: the request's language.
    played = notice[0]
    assert played.channel.startswith("Local/s@hotline-outbound-") and played.channel.endswith(";1")
    assert played.app_data == f"{hotline.callbacks.sounds_dir}/pl/{NOTICE_PROMPT}"
    (row,) = await eventually(
        lambda: completed_recordings(hotline, placeholder, 1), what="the call-back's recording completed"
    )
    file = hotline.recordings.folder / row.path
    assert file.stat().st_size > 0 and (row.size_bytes, row.sha256) == file_digest(file)
    assert (row.consultant_id, row.queue, row.call_id) == (consultant.info.id, "jobs-pl", request.call_id)
    # As long as the notice at least (the consultant's leg is recorded from when they took the call-back).
    assert row.duration_seconds is not None and row.duration_seconds > 5
    assert band_rms(file, 1350, 1450) > 0.02  # the consultant's side is in it


async def test_a_consultant_transfers_a_call_back_with_the_phones_feature_and_the_case_card(
    desks: tuple[Hotline, Carrier, dict[str, Desk]],
) -> None:
    """The consultant who took a call-back keys the blind transfer and training's code on their phone: the
    caller called back reaches the training consultant's phone, with a case card; both legs are recorded."""
    hotline, carrier, by_name = desks
    first, training = by_name["cb"], by_name["cb_training"]
    assert hotline.consultants is not None and hotline.transfer_targets is not None
    assert hotline.case_cards is not None and hotline.callbacks is not None
    number = random_caller()
    async with hotline.consultants.sessions() as session, session.begin():
        session.add(
            CallbackRequest(
                number=number,
                topic="jobs",
                language="pl",
                consent=True,
                status="pending",
                pending_key=f"{number}|jobs",
            )
        )
    at_carrier = carrier.subscribe()
    try:
        async with ami_events(hotline) as events:
            await log_in(hotline, first, training)
            connect = await next_connect(events, first, timeout=60)
            placeholder = connect.uniqueid
            assert placeholder.startswith("cb-") and placeholder.endswith("-q")
            await received_by_carrier(carrier, at_carrier, number)
            await eventually(
                lambda: caller_bridged(hotline, placeholder[:-2]), timeout=40, what="the caller put through"
            )
            await first.phone.command("sndcode", BLIND_FEATURE + hotline.transfer_targets.codes["training"])
            moved = await next_connect(events, training, uniqueid=placeholder)
            assert moved.queue == "training-pl"
            await eventually(
                lambda: bridged_with(hotline, placeholder, training), what="the caller with training"
            )
            assert await caller_bridged(hotline, placeholder[:-2])  # the caller called back is still there
            await hang_up(hotline, placeholder[:-2])
    finally:
        carrier.ami.unsubscribe(at_carrier)
        await log_out(hotline, first, training)
    (card,) = await hotline.case_cards.of_channel(placeholder)
    assert (card.mode, card.source, card.target_kind, card.target, card.placed) == (
        "blind",
        "phone",
        "queue",
        "training",
        True,
    )
    assert (card.topic, card.language, card.consultant_name) == ("jobs", "pl", "cb")
    rows = await eventually(
        lambda: completed_recordings(hotline, placeholder, 2), what="both consultants' recordings completed"
    )
    assert [(row.consultant_id, row.queue) for row in rows] == [
        (first.info.id, "jobs-pl"),
        (training.info.id, "training-pl"),
    ]
    store = hotline.callbacks.store

    async def done() -> bool:
        (request,) = await store.requests_for(number)
        return request.status == "done"

    await eventually(done, what="the call-back recorded as made")


async def waiting_request(hotline: Hotline, number: str):  # type: ignore[no-untyped-def]
    assert hotline.callbacks is not None
    requests = await hotline.callbacks.store.requests_for(number)
    return requests[0] if requests and requests[0].status == "waiting" else None


async def consultant_takes_the_call_back(
    hotline: Hotline,
    carrier: Carrier,
    at_carrier: asyncio.Queue[AmiEvent],
    consultant: Desk,
    number: str,
) -> None:
    """The consultant logs in and takes the call-back waiting for them; the carrier receives the call to
    ``number``; the consultant hangs up."""
    async with ami_events(hotline) as events:
        await log_in(hotline, consultant)
        connect = await next_connect(events, timeout=60)
        assert connect.uniqueid.startswith("cb-")
        await received_by_carrier(carrier, at_carrier, number)
        await hang_up(hotline, connect.uniqueid[:-2])


async def made(store: CallbackStore, number: str, what: str) -> None:
    """Wait until the only request of ``number`` is done."""

    async def done() -> bool:
        (request,) = await store.requests_for(number)
        return request.status == "done"

    await eventually(done, what=what)


async def test_an_unanswered_call_back_is_retried_and_a_second_request_is_not_stored(
    setup: tuple[Hotline, Carrier, Desk],
) -> None:
    hotline, _carrier, consultant = setup
    assert hotline.ami is not None and hotline.callbacks is not None
    number = "+48500" + "".join(random.choice("0123456789") for _ in range(6))  # the carrier lets it ring
    caller = await waiting_caller(hotline, number)
    await press(hotline.ami, caller, hotline.callbacks.queues.callback_key)
    await eventually(lambda: waiting_request(hotline, number), what="the placeholder waits")
    # The same number asks again while the first request is active: nothing new is stored, and the caller is
    # back in the queue at their place; then they hang up.
    async with ami_events(hotline) as events:
        again = await waiting_caller(hotline, number)
        await press(hotline.ami, again, hotline.callbacks.queues.callback_key)

        joins = 0

        async def back_in_the_queue() -> bool:
            nonlocal joins
            while not events.empty():
                event = events.get_nowait()
                joins += isinstance(event, QueueCallerJoin) and event.uniqueid == again.uniqueid
            return joins >= 2  # joined, pressed the key, joined again

        await eventually(back_in_the_queue, what="the second request refused, the caller back in the queue")
    assert len(await hotline.callbacks.store.requests_for(number)) == 1
    await hang_up(hotline, again.uniqueid or "")
    await log_in(hotline, consultant)
    try:
        store = hotline.callbacks.store

        async def status_is(status: str, attempts: int) -> bool:
            (request,) = await store.requests_for(number)
            return (request.status, request.attempts) == (status, attempts)

        await eventually(lambda: status_is("pending", 1), timeout=60, what="the first attempt unanswered")
        # The retry waits callback_retry_seconds on the hotline's clock (pinned in these tests): move it on.
        assert isinstance(hotline.clock, TestClock)
        hotline.clock.at += timedelta(seconds=5)
        await eventually(lambda: status_is("failed", 2), timeout=60, what="the second attempt unanswered")
        (request,) = await store.requests_for(number)
        history = await store.history(request.id)
        assert [(a.attempt, a.result) for a in history] == [(1, "no_answer"), (2, "no_answer")]
    finally:
        if isinstance(hotline.clock, TestClock):
            hotline.clock.at = WORKING_DAY
        await log_out(hotline, consultant)


async def test_a_call_back_waiting_while_the_dialer_restarts_is_made_once(
    setup: tuple[Hotline, Carrier, Desk],
) -> None:
    """The dialer is stopped while the placeholder waits and a new one starts (as a restarted worker would):
    the placeholder held by Asterisk is followed again, and the caller is called back exactly once."""
    hotline, carrier, consultant = setup
    assert hotline.ami is not None and hotline.callbacks is not None
    number = random_caller()
    caller = await waiting_caller(hotline, number)
    await press(hotline.ami, caller, hotline.callbacks.queues.callback_key)
    await eventually(lambda: waiting_request(hotline, number), what="the placeholder waits")

    old = hotline.callbacks
    await old.close()
    restarted = CallbackDialer(
        old.settings,
        old.store,
        old.queues,
        old.hours,
        type(old.ami)(old.settings),
        old.sounds_dir,
        now=old.now,  # type: ignore[misc]
    )
    await restarted.start()
    await asyncio.wait_for(restarted.adopted.wait(), 30)
    hotline.callbacks = restarted
    assert hotline.services is not None
    # The FastAGI routes keep the services they started with (the closed dialer): a caller can no longer
    # book from the queue in this module's hotline, so the tests that do come before this one.
    hotline.services = replace(hotline.services, callback_dialer=restarted)

    at_carrier = carrier.subscribe()
    try:
        await consultant_takes_the_call_back(hotline, carrier, at_carrier, consultant, number)
        store = restarted.store
        await made(store, number, "the call-back recorded as made")
        (request,) = await store.requests_for(number)
        assert [a.result for a in await store.history(request.id)] == ["answered"]
        await asyncio.sleep(2)  # were anything to call again, the dialer polls every 0.5 s
        calls = 0
        while not at_carrier.empty():
            event = Carrier.received(at_carrier.get_nowait())
            calls += event is not None and event.fields.get("Number") == number
        assert calls == 0  # no second call after the first was received
    finally:
        carrier.ami.unsubscribe(at_carrier)
        await log_out(hotline, consultant)


async def test_an_after_hours_request_is_called_back_at_opening_when_a_consultant_is_free(
    setup: tuple[Hotline, Carrier, Desk],
) -> None:
    """The IVR's after-hours requests wait for the opening and a free consultant, then get a placeholder at
    the end of their topic's queue: the consultant who takes it calls the caller back over the trunk."""
    hotline, carrier, consultant = setup
    assert hotline.callbacks is not None and hotline.consultants is not None
    number = random_caller()
    async with hotline.consultants.sessions() as session, session.begin():
        session.add(
            CallbackRequest(
                number=number, topic="jobs", consent=True, status="pending", pending_key=f"{number}|jobs"
            )
        )
    store = hotline.callbacks.store
    assert [r.status for r in await store.requests_for(number)] == ["pending"]  # no consultant is free
    at_carrier = carrier.subscribe()
    try:
        await consultant_takes_the_call_back(hotline, carrier, at_carrier, consultant, number)
        await made(store, number, "the after-hours call-back made")
        (request,) = await store.requests_for(number)
        assert request.kind == "after_hours"
        assert [(a.attempt, a.result) for a in await store.history(request.id)] == [(1, "answered")]
    finally:
        carrier.ami.unsubscribe(at_carrier)
        await log_out(hotline, consultant)
