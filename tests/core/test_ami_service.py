"""The life of a service on an AMI connection (hotline/ami/service.py), on the real client against a socket
peer playing Asterisk's AMI: the work at every login, the event loop that survives a failing event, the
close that leaves no task behind."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hotline.ami import AmiClient, AmiEvent, AmiService
from hotline.settings import Settings
from tests.core.ami_peer import FakeAmi, newexten


def client(port: int) -> AmiClient:
    return AmiClient(Settings(ami_port=port, ami_secret="s"))


async def ignore(_event: AmiEvent) -> None:
    return None


async def test_the_work_after_login_runs_at_every_login_after_the_event_mask(
    fake_ami: tuple[FakeAmi, int],
) -> None:
    peer, port = fake_ami
    ready = asyncio.Event()
    logins: asyncio.Queue[tuple[bool, int]] = asyncio.Queue()

    async def after_login() -> None:
        # What the service sees when its work starts: its event cleared, the mask asked for already.
        masks = sum(1 for action in peer.actions if action.get("Action") == "Events")
        await logins.put((ready.is_set(), masks))
        ready.set()

    service = AmiService(
        client(port), "test", ignore, events="agent", after_login=after_login, login_resets=ready
    )
    await service.start()
    try:
        assert await asyncio.wait_for(logins.get(), 10) == (False, 1)
        await asyncio.wait_for(ready.wait(), 10)
        peer.drop()
        assert await asyncio.wait_for(logins.get(), 15) == (False, 2)
        assert peer.logins == 2
        assert [a.get("EventMask") for a in peer.actions if a.get("Action") == "Events"] == ["agent", "agent"]
    finally:
        await service.close()


async def test_an_event_that_fails_is_logged_and_the_next_ones_are_handled(
    fake_ami: tuple[FakeAmi, int], caplog: pytest.LogCaptureFixture
) -> None:
    peer, port = fake_ami
    handled: asyncio.Queue[str] = asyncio.Queue()

    async def handle(event: AmiEvent) -> None:
        if event.name == "FullyBooted":
            return
        if event.uniqueid == "1.1":
            raise RuntimeError("this event breaks the handler")
        await handled.put(event.uniqueid)

    ami = client(port)
    service = AmiService(ami, "test", handle)
    await service.start()
    try:
        await ami.wait_connected(10)
        with caplog.at_level(logging.ERROR, logger="hotline.ami"):
            peer.push(newexten("1.1") + newexten("1.2") + newexten("1.3"))
            assert [await asyncio.wait_for(handled.get(), 10) for _ in range(2)] == ["1.2", "1.3"]
        assert "test: AMI event Newexten not applied" in caplog.text
        assert "this event breaks the handler" in caplog.text
    finally:
        await service.close()


async def test_close_cancels_every_task_and_closes_the_connection_it_owns(
    fake_ami: tuple[FakeAmi, int],
) -> None:
    _peer, port = fake_ami
    ami = client(port)
    service = AmiService(ami, "test", ignore)
    await service.start()
    await ami.wait_connected(10)
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = service.spawn(forever(), "test-forever")
    await asyncio.wait_for(started.wait(), 10)
    events = next(t for t in asyncio.all_tasks() if t.get_name() == "test-events")
    await service.close()
    assert task.cancelled() and events.cancelled()
    assert not ami.connected


async def test_a_service_on_a_shared_connection_leaves_it_open_and_stops_hearing_logins(
    fake_ami: tuple[FakeAmi, int],
) -> None:
    peer, port = fake_ami
    ami = client(port)
    logins: asyncio.Queue[str] = asyncio.Queue()

    def service(name: str) -> AmiService:
        return AmiService(ami, name, ignore, after_login=lambda: logins.put(name), owns_connection=False)

    first, second = service("first"), service("second")
    await first.start()
    await second.start()
    await ami.start()
    try:
        assert {await asyncio.wait_for(logins.get(), 10) for _ in range(2)} == {"first", "second"}
        await first.close()
        assert ami.connected
        peer.drop()
        assert await asyncio.wait_for(logins.get(), 15) == "second"
        await ami.wait_connected(10)
        assert logins.empty()
    finally:
        await second.close()
        await ami.close()


async def test_services_sharing_a_connection_get_the_union_of_their_event_classes_at_every_login(
    fake_ami: tuple[FakeAmi, int],
) -> None:
    peer, port = fake_ami
    ami = client(port)
    seen: asyncio.Queue[tuple[str, tuple[str, ...]]] = asyncio.Queue()

    def service(name: str, events: str) -> AmiService:
        async def after_login() -> None:
            # Each service's work starts once the connection's classes were asked for.
            masks = tuple(a["EventMask"] for a in peer.actions if a.get("Action") == "Events")
            await seen.put((name, masks))

        return AmiService(ami, name, ignore, events=events, after_login=after_login, owns_connection=False)

    states, dialler = service("states", "agent"), service("dialler", "call, agent,user")
    await states.start()
    await dialler.start()
    await ami.start()
    try:
        first = {await asyncio.wait_for(seen.get(), 10) for _ in range(2)}
        assert first == {("states", ("agent,call,user",)), ("dialler", ("agent,call,user",))}
        peer.drop()
        again = {await asyncio.wait_for(seen.get(), 15) for _ in range(2)}
        assert {masks.count("agent,call,user") for _, masks in again} == {2}  # one Events per login
    finally:
        await states.close()
        await dialler.close()
        await ami.close()
