"""AMI: typed events from frames (pure), and the client against a socket peer playing Asterisk's AMI."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hotline.ami import AmiClient, AmiEvent, Hangup, Newexten, QueueCallerJoin, parse_event
from hotline.settings import Settings
from tests.core.ami_peer import FakeAmi, newexten


def test_frames_become_typed_events() -> None:
    event = parse_event(
        {
            "Event": "Newexten",
            "Uniqueid": "1.1",
            "Linkedid": "1.1",
            "Channel": "PJSIP/x-1",
            "Context": "hotline",
            "Extension": "19524",
            "Priority": "1",
            "Application": "Set",
            "AppData": "",
            "CallerIDNum": "+48600",
        }
    )
    assert isinstance(event, Newexten)
    assert (event.context, event.extension, event.priority, event.caller_id_num) == (
        "hotline",
        "19524",
        1,
        "+48600",
    )
    hangup = parse_event(
        {"Event": "Hangup", "Uniqueid": "1.1", "Cause": "16", "Cause-txt": "Normal Clearing"}
    )
    assert isinstance(hangup, Hangup) and hangup.cause == 16
    join = parse_event({"Event": "QueueCallerJoin", "Uniqueid": "1.1", "Queue": "jobs", "Position": "2"})
    assert isinstance(join, QueueCallerJoin) and (join.queue, join.position) == ("jobs", 2)


@pytest.mark.parametrize(
    "frame",
    [
        {"Event": "Newexten", "Uniqueid": "1.1", "Priority": "not-a-number"},
        {"Event": "Newstate", "Uniqueid": "1.1", "ChannelState": ""},
        {"Event": "Hangup"},
        {"Event": "SomethingNew", "Uniqueid": "1.1"},
        {},
    ],
)
def test_broken_or_unknown_frames_are_dropped(frame: dict[str, str]) -> None:
    assert parse_event(frame) is None


async def next_event(queue: asyncio.Queue[AmiEvent]) -> AmiEvent:
    """The next channel event (the peer's FullyBooted after each login is skipped)."""
    while True:
        event = await asyncio.wait_for(queue.get(), 10)
        if event.name != "FullyBooted":
            return event


async def test_garbage_frames_are_dropped_and_good_ones_arrive_in_order(
    fake_ami: tuple[FakeAmi, int], caplog: pytest.LogCaptureFixture
) -> None:
    peer, port = fake_ami
    client = AmiClient(Settings(ami_port=port, ami_secret="s"))
    events = client.subscribe()
    await client.start()
    try:
        await client.wait_connected(10)
        peer.push(b"this is not a frame at all\r\n\r\n")
        peer.push(b"\xff\xfe\x00garbage\r\n\r\n")
        peer.push(b"Event: Newexten\r\nUniqueid: 9.9\r\nPriority: many\r\n\r\n")
        peer.push(b"".join(newexten(f"1.{n}") for n in range(50)))
        received = [await next_event(events) for _ in range(50)]
        assert [e.uniqueid for e in received] == [f"1.{n}" for n in range(50)]
        assert all(isinstance(e, Newexten) for e in received)
    finally:
        await client.close()


async def test_client_reconnects_after_the_connection_drops(fake_ami: tuple[FakeAmi, int]) -> None:
    peer, port = fake_ami
    client = AmiClient(Settings(ami_port=port, ami_secret="s"))
    events = client.subscribe()
    await client.start()
    try:
        await client.wait_connected(10)
        peer.logged_in.clear()
        peer.drop()
        await asyncio.wait_for(peer.logged_in.wait(), 15)
        await client.wait_connected(10)
        assert peer.logins == 2
        peer.push(newexten("2.1"))
        assert (await next_event(events)).uniqueid == "2.1"
    finally:
        await client.close()


async def test_unanswered_pings_make_the_client_reconnect(
    fake_ami: tuple[FakeAmi, int], caplog: pytest.LogCaptureFixture
) -> None:
    peer, port = fake_ami
    client = AmiClient(Settings(ami_port=port, ami_secret="s", ami_ping_interval=0.2))
    await client.start()
    try:
        await client.wait_connected(10)
        peer.logged_in.clear()
        peer.answer_pings = False
        with caplog.at_level(logging.WARNING, logger="hotline.ami"):
            await asyncio.wait_for(peer.logged_in.wait(), 15)
        assert peer.logins == 2
        assert "ping unanswered" in caplog.text
    finally:
        await client.close()


def test_ami_refuses_a_non_loopback_host() -> None:
    with pytest.raises(RuntimeError, match="loopback"):
        AmiClient(Settings(ami_host="0.0.0.0", ami_secret="s"))
