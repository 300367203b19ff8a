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

from devtools.carrier import Carrier
from devtools.testcall import TestCallResult, place_test_call, press, random_caller
from hotline.ami import QueueCallerJoin
from hotline.callbacks import CallbackStore
from hotline.db import CallbackRequest
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

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/baresip").exists(), reason="baresip (Debian baresip-core) is not installed"
)

PL_JOBS = ["1", "1", "0"]  # Polish, job offers, a consultant


@pytest.fixture(scope="module")
async def setup(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Hotline, Carrier, Desk]]:
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
        consultant_desks(hotline, folder, {"cb": ["jobs:pl:3"]}) as desks,
    ):
        yield hotline, carrier, desks["cb"]


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


async def waiting_request(hotline: Hotline, number: str):  # type: ignore[no-untyped-def]
    assert hotline.callbacks is not None
    requests = await hotline.callbacks.store.requests_for(number)
    return requests[0] if requests and requests[0].status == "waiting" else None


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
    hotline.services = replace(hotline.services, callback_dialer=restarted)

    at_carrier = carrier.subscribe()
    try:
        async with ami_events(hotline) as events:
            await log_in(hotline, consultant)
            connect = await next_connect(events, timeout=60)
            assert connect.uniqueid.startswith("cb-")
            await received_by_carrier(carrier, at_carrier, number)
            await hang_up(hotline, connect.uniqueid[:-2])
        store = restarted.store

        async def done() -> bool:
            (request,) = await store.requests_for(number)
            return request.status == "done"

        await eventually(done, what="the call-back recorded as made")
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
        async with ami_events(hotline) as events:
            await log_in(hotline, consultant)
            connect = await next_connect(events, timeout=60)
            assert connect.uniqueid.startswith("cb-")
            await received_by_carrier(carrier, at_carrier, number)
            await hang_up(hotline, connect.uniqueid[:-2])

        async def done() -> bool:
            (request,) = await store.requests_for(number)
            return request.status == "done"

        await eventually(done, what="the after-hours call-back made")
        (request,) = await store.requests_for(number)
        assert request.kind == "after_hours"
        assert [(a.attempt, a.result) for a in await store.history(request.id)] == [(1, "answered")]
    finally:
        carrier.ami.unsubscribe(at_carrier)
        await log_out(hotline, consultant)
