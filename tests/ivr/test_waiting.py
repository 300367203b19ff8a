"""The waiting announcer's decisions on a typed fake of the AMI connection (the real Asterisk plays them in
tests/e2e/test_waiting.py): what it originates, for whom, in which language, and when it stops."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from hotline.ami import AmiEvent, AmiResponse, parse_event
from hotline.ami.actions import AmiAction, Hangup, Originate, QueueStatus
from hotline.handle_times import HandleTimes
from hotline.queues import RoutingStep
from ivr.waiting import WaitingAnnouncer
from tests.core.conftest import REDIS_URL
from tests.data import QUEUES

SOUNDS = "/sounds"


@dataclass
class FakeAmi:
    """Answers QueueStatus from ``queues`` (queue -> its QueueMember/QueueEntry frames); records actions."""

    queues: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    sent: list[AmiAction] = field(default_factory=list)

    async def send(self, action: AmiAction, *, timeout: float | None = None) -> AmiResponse:
        self.sent.append(action)
        await asyncio.sleep(0)  # an answer comes later than the question
        if isinstance(action, QueueStatus):
            frames = [f for name, fs in self.queues.items() if action.queue in (None, name) for f in fs]
            return AmiResponse("Success", "Queue status will follow", events=tuple(frames))
        return AmiResponse("Success", "")

    def subscribe(self, maxsize: int = 0) -> asyncio.Queue[AmiEvent]:
        return asyncio.Queue()

    def unsubscribe(self, queue: asyncio.Queue[AmiEvent]) -> None:
        pass

    def on_login(self, callback: Callable[[], None]) -> None:
        pass

    def originated(self) -> list[Originate]:
        return [a for a in self.sent if isinstance(a, Originate)]


def waiting(queue: str, *uniqueids: str) -> list[dict[str, str]]:
    """A queue with one consultant on a call and these callers, in order."""
    member = {
        "Event": "QueueMember",
        "Queue": queue,
        "StateInterface": "PJSIP/anna",
        "Status": "2",
        "InCall": "1",
    }
    return [member] + [
        {
            "Event": "QueueEntry",
            "Queue": queue,
            "Position": str(position),
            "Uniqueid": uniqueid,
            "Channel": f"PJSIP/loopback-0000000{position}",
        }
        for position, uniqueid in enumerate(uniqueids, 1)
    ]


@pytest.fixture
async def handle_times() -> AsyncIterator[HandleTimes]:
    store = HandleTimes(REDIS_URL, prefix=f"hotline-test-{uuid.uuid4().hex[:8]}")
    yield store
    await store.clear("jobs")
    await store.close()


def announcer(
    ami: FakeAmi, handle_times: HandleTimes, routing: tuple[RoutingStep, ...] = ()
) -> WaitingAnnouncer:
    return WaitingAnnouncer(
        ami,  # type: ignore[arg-type]  # the fake plays the AMI client's part
        handle_times,
        sounds_dir=SOUNDS,
        languages=("pl", "uk", "en"),
        period_s=3600,  # announcements are asked for by the test
        default_handle_s=300,
        wrapup_s=30,
        routing=routing,
    )


async def test_an_announcement_whispers_our_prompts_in_the_callers_language(
    handle_times: HandleTimes,
) -> None:
    ami = FakeAmi({"jobs": waiting("jobs", "1.1", "1.2")})
    waiter = announcer(ami, handle_times)
    waiter.join("1.2", "PJSIP/loopback-00000002", "jobs", "uk")
    assert await waiter.announce(waiter.callers["1.2"])
    (originate,) = ami.originated()
    assert originate.channel == "Local/play@hotline-waiting-announce"
    assert (originate.context, originate.exten) == ("hotline-waiting-announce", "spy")
    # One ahead, one consultant on a call, no history: 300 s per call, cv 1: 600 s, "about 10 minutes".
    assert originate.variables == {
        "__HOTLINE_WAIT_CALLER": "PJSIP/loopback-00000002",
        "__HOTLINE_WAIT_PROMPTS": (
            f"{SOUNDS}/uk/wait_ahead_1&{SOUNDS}/uk/wait_time_10&{SOUNDS}/uk/queue_callback_offer"
        ),
    }
    assert originate.channel_id == waiter.callers["1.2"].announcing
    await waiter.close()


async def test_a_free_consultant_the_callers_step_does_not_reach_yet_is_not_counted(
    handle_times: HandleTimes,
) -> None:
    frames = waiting("jobs", "1.1")
    frames[0]["Penalty"] = "0"  # anna, of the topic, on a call
    frames[1]["Wait"] = "45"
    # Ewa, of another language (penalty 20), is free: the caller reaches her after 120 s of waiting.
    frames.append({"Event": "QueueMember", "Queue": "jobs", "StateInterface": "PJSIP/ewa", "Status": "1"})
    frames[-1]["Penalty"] = "20"
    blind = FakeAmi({"jobs": frames})
    said = FakeAmi({"jobs": frames})
    for ami, routing in ((blind, ()), (said, QUEUES.routing)):
        waiter = announcer(ami, handle_times, routing)
        waiter.join("1.1", "PJSIP/loopback-00000001", "jobs", "pl")
        assert await waiter.announce(waiter.callers["1.1"])
        await waiter.close()
    prompts = {
        name: ami.originated()[0].variables["__HOTLINE_WAIT_PROMPTS"]
        for name, ami in (("blind", blind), ("said", said))
    }
    # Blind to routing, Ewa made it "less than a minute". With the steps, nobody takes the caller for 75 s:
    # Anna's call (300 s, cv 1, no history) is expected to end in 300 s, Ewa's step opens in 75 s and she
    # takes the caller then if still free: 75 s, "about two minutes".
    assert prompts["blind"].startswith(f"{SOUNDS}/pl/wait_ahead_0&{SOUNDS}/pl/wait_time_0&")
    assert prompts["said"].startswith(f"{SOUNDS}/pl/wait_ahead_0&{SOUNDS}/pl/wait_time_2&")


async def test_an_unknown_language_gets_the_first_one(handle_times: HandleTimes) -> None:
    ami = FakeAmi({"jobs": waiting("jobs", "1.1")})
    waiter = announcer(ami, handle_times)
    waiter.join("1.1", "PJSIP/loopback-00000001", "jobs", "xx")
    assert waiter.callers["1.1"].language == "pl"
    await waiter.close()


@pytest.mark.parametrize(
    ("channel", "queue"),
    [
        ("PJSIP/loopback-00000001,b", "jobs"),
        ("Local/x@y-00000001;2", "jobs"),
        ("PJSIP/a-00000001", "jobs\r\nX"),
    ],
)
async def test_a_strange_channel_or_queue_gets_no_announcements(
    handle_times: HandleTimes, channel: str, queue: str
) -> None:
    waiter = announcer(FakeAmi(), handle_times)
    waiter.join("1.1", channel, queue, "pl")
    assert waiter.callers == {}
    await waiter.close()


async def test_a_caller_no_longer_in_the_queue_is_not_announced_to(handle_times: HandleTimes) -> None:
    ami = FakeAmi({"jobs": waiting("jobs", "1.1")})
    waiter = announcer(ami, handle_times)
    waiter.join("1.9", "PJSIP/loopback-00000009", "jobs", "pl")
    assert not await waiter.announce(waiter.callers["1.9"])
    assert ami.originated() == []
    await waiter.close()


async def test_callers_of_one_queue_announced_together_share_one_queue_status(
    handle_times: HandleTimes,
) -> None:
    ami = FakeAmi({"jobs": waiting("jobs", "1.1", "1.2", "1.3")})
    waiter = announcer(ami, handle_times)
    for n in (1, 2, 3):
        waiter.join(f"1.{n}", f"PJSIP/loopback-0000000{n}", "jobs", "en")
    results = await asyncio.gather(*(waiter.announce(caller) for caller in list(waiter.callers.values())))
    assert results == [True, True, True]
    assert sum(isinstance(a, QueueStatus) for a in ami.sent) == 1
    prompts = sorted(o.variables["__HOTLINE_WAIT_PROMPTS"].split("&")[0] for o in ami.originated())
    assert prompts == [f"{SOUNDS}/en/wait_ahead_0", f"{SOUNDS}/en/wait_ahead_1", f"{SOUNDS}/en/wait_ahead_2"]
    await waiter.close()


async def test_leaving_the_queue_or_hanging_up_ends_the_announcements(handle_times: HandleTimes) -> None:
    waiter = announcer(FakeAmi(), handle_times)
    waiter.join("1.1", "PJSIP/loopback-00000001", "jobs", "pl")
    waiter.join("1.2", "PJSIP/loopback-00000002", "jobs", "pl")
    for frame in (
        {"Event": "QueueCallerLeave", "Uniqueid": "1.1", "Queue": "jobs"},
        {"Event": "Hangup", "Uniqueid": "1.2", "Cause": "16"},
    ):
        event = parse_event(frame)
        assert event is not None
        await waiter.apply(event)
    assert waiter.callers == {}
    await waiter.close()


async def test_a_finished_call_adds_its_talk_and_wrapup_to_the_queues_history(
    handle_times: HandleTimes,
) -> None:
    waiter = announcer(FakeAmi(), handle_times)
    for talk in ("95", "garbage", "-4"):
        event = parse_event(
            {
                "Event": "AgentComplete",
                "Uniqueid": "1.1",
                "Queue": "jobs",
                "Interface": "PJSIP/anna",
                "TalkTime": talk,
            }
        )
        assert event is not None
        await waiter.apply(event)
    assert await handle_times.recent("jobs") == (125.0,)  # 95 s of talk + 30 s of wrap-up
    await waiter.close()


async def test_leaving_the_queue_cuts_the_announcement_in_progress(handle_times: HandleTimes) -> None:
    """A consultant answers (or the caller presses the call-back key) mid-announcement: the whisper stops."""
    ami = FakeAmi({"jobs": waiting("jobs", "1.1")})
    waiter = announcer(ami, handle_times)
    waiter.join("1.1", "PJSIP/loopback-00000001", "jobs", "pl")
    assert await waiter.announce(waiter.callers["1.1"])
    (originate,) = ami.originated()
    event = parse_event({"Event": "QueueCallerLeave", "Uniqueid": "1.1", "Queue": "jobs"})
    assert event is not None
    await waiter.apply(event)

    def hung_up() -> list[str]:
        return [a.channel for a in ami.sent if isinstance(a, Hangup)]

    for _ in range(100):  # the cut runs as a task of its own: let the loop run it
        if hung_up():
            break
        await asyncio.sleep(0)
    assert hung_up() == [originate.channel_id]
    await waiter.close()


@dataclass
class FailingOnceAmi(FakeAmi):
    """Its first Originate fails with an error nobody foresaw."""

    failed: bool = False
    announced: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, action: AmiAction, *, timeout: float | None = None) -> AmiResponse:
        if isinstance(action, Originate):
            if not self.failed:
                self.failed = True
                raise RuntimeError("a fault nobody foresaw")
            self.announced.set()
        return await super().send(action, timeout=timeout)


async def test_an_announcement_that_fails_unexpectedly_is_logged_and_the_next_one_comes(
    handle_times: HandleTimes, caplog: pytest.LogCaptureFixture
) -> None:
    ami = FailingOnceAmi({"jobs": waiting("jobs", "1.1")})
    waiter = WaitingAnnouncer(
        ami,  # type: ignore[arg-type]  # the fake plays the AMI client's part
        handle_times,
        sounds_dir=SOUNDS,
        languages=("pl",),
        period_s=0.01,
        default_handle_s=300,
        wrapup_s=30,
    )
    try:
        waiter.join("1.1", "PJSIP/loopback-00000001", "jobs", "pl")
        await asyncio.wait_for(ami.announced.wait(), 20)
        assert ami.failed and len(ami.originated()) == 1
        assert "announcement to 1.1 failed" in caplog.text and "a fault nobody foresaw" in caplog.text
    finally:
        await waiter.close()
