"""While waiting: a caller in a queue with no consultant free hears, every period, their place in line and our
wait estimate in their language, whispered over the hold music, and never leaves the queue for it."""

from __future__ import annotations

import asyncio
import contextlib
import wave
from array import array
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devtools.testcall import place_test_call
from hotline.ami import (
    AmiClient,
    AmiError,
    AmiEvent,
    ChanSpyStart,
    Hangup,
    Newexten,
    QueueCallerJoin,
    QueueCallerLeave,
    actions,
)
from hotline.handle_times import HandleTimes
from launcher.runner import Hotline
from tests.e2e.conftest import eventually, running_hotline

# Menu choice 0 in Ukrainian and in English: the topic's queue of each language.
QUEUE_UK, QUEUE_EN = "consultant-uk", "consultant-en"
BUSY_CONSULTANT = "Custom:waiting-test-consultant"
MEMBER = "Local/consultant@hotline-waiting-test"  # never rung: its device is in use, and ringinuse = no


@pytest.fixture(scope="module")
async def waiting_hotline(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Hotline]:
    """A hotline of its own that announces every 3 s (the production setting is 45 s)."""
    async with running_hotline(
        database_url, tmp_path_factory.mktemp("waiting"), "waiting", wait_announce_seconds=3.0
    ) as hotline:
        yield hotline


def loudness(path: Path, frame_ms: int = 100) -> list[float]:
    """RMS of each ``frame_ms`` of a 16-bit mono WAV."""
    with wave.open(str(path), "rb") as wav:
        size = wav.getframerate() * frame_ms // 1000
        samples = array("h", wav.readframes(wav.getnframes()))
    return [
        (sum(x * x for x in samples[i : i + size]) / size) ** 0.5
        for i in range(0, len(samples) - size + 1, size)
    ]


async def complete_wav(path: Path) -> Path:
    """The caller's recording, once MixMonitor has closed it after the hang-up."""

    async def complete() -> Path | None:
        with contextlib.suppress(OSError, wave.Error, EOFError):
            with wave.open(str(path), "rb") as wav:
                expected = wav.getnframes() * wav.getsampwidth() * wav.getnchannels()
            if expected > 0 and path.stat().st_size >= 44 + expected:
                return path
        return None

    return await eventually(complete, what=f"the recording {path} completed")


class Announcements:
    """What Asterisk did, from AMI: each announcement channel, whom it whispered to and what it played."""

    def __init__(self, ami: AmiClient) -> None:
        self.ami = ami
        self.events: list[AmiEvent] = []
        self.queue = ami.subscribe()
        self.task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        while True:
            self.events.append(await self.queue.get())

    def to(self, channel: str) -> list[str]:
        """The files played to ``channel``, one entry per announcement (its Playback's '&'-joined files)."""
        pairs = {
            event.channel.split(";")[0]
            for event in self.events
            if isinstance(event, ChanSpyStart) and event.spyee_channel == channel
        }
        return [
            event.app_data
            for event in self.events
            if isinstance(event, Newexten)
            and event.application == "Playback"
            and event.channel.split(";")[0] in pairs
        ]

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.ami.unsubscribe(self.queue)


async def test_a_waiting_caller_hears_place_and_wait_in_their_language(waiting_hotline: Hotline) -> None:
    hotline = waiting_hotline
    assert hotline.ami is not None and hotline.services is not None
    ami = hotline.ami
    sounds = Path(hotline.services.sounds_dir)
    # History of the queues: 8 calls of 2 minutes (talk and wrap-up), in Redis where AgentComplete puts them.
    times = HandleTimes(hotline.settings.redis_url, prefix=hotline.settings.redis_prefix)
    for queue in (QUEUE_UK, QUEUE_EN):
        for _ in range(8):
            await times.add(queue, 120.0)
    # One consultant serves both queues and is on a call: nobody is free.
    await ami.send(actions.Setvar(variable=f"DEVICE_STATE({BUSY_CONSULTANT})", value="INUSE"))
    for queue in (QUEUE_UK, QUEUE_EN):
        await ami.send(
            actions.QueueAdd(
                queue=queue, interface=MEMBER, member_name="Busy Consultant", state_interface=BUSY_CONSULTANT
            )
        )
    seen = Announcements(ami)
    waiting: list[str] = []  # the callers' channels, hung up at the end
    try:
        # Two callers in Ukrainian (2, then 0 for a consultant), one in English (3, 0).
        first = await place_test_call(ami, "19524", ["2", "0"], hang_up=False, timeout=90)
        second = await place_test_call(ami, "19524", ["2", "0"], hang_up=False, timeout=90)
        english = await place_test_call(ami, "19524", ["3", "0"], hang_up=False, timeout=90)
        assert [r.asterisk_queue for r in (first, second, english)] == [QUEUE_UK, QUEUE_UK, QUEUE_EN]
        channels = [next(e.channel for e in r.events if e.channel) for r in (first, second, english)]
        waiting += channels

        async def announced_twice() -> bool:
            return all(len(seen.to(channel)) >= 2 for channel in channels)

        await eventually(announced_twice, timeout=60, what="two announcements to each caller")
        # The estimate: h = (8 * 120 + 3 * 300) / 11 = 169 s (the window shrunk towards the default), calls
        # that do not vary: the first caller of a queue waits for the consultant's call to end, about 85 s
        # ("about 2 minutes"); the second for that and one more call, about 254 s ("about 5 minutes").
        # Each announcement ends with the call-back offer.
        uk_offer, en_offer = f"{sounds}/uk/queue_callback_offer", f"{sounds}/en/queue_callback_offer"
        assert seen.to(channels[0])[0] == f"{sounds}/uk/wait_ahead_0&{sounds}/uk/wait_time_2&{uk_offer}"
        assert seen.to(channels[1])[0] == f"{sounds}/uk/wait_ahead_1&{sounds}/uk/wait_time_5&{uk_offer}"
        assert seen.to(channels[2])[0] == f"{sounds}/en/wait_ahead_0&{sounds}/en/wait_time_2&{en_offer}"
        # All stayed in their queue all along.
        left = [
            e
            for e in seen.events
            if isinstance(e, QueueCallerLeave | Hangup)
            and e.uniqueid in (first.uniqueid, second.uniqueid, english.uniqueid)
        ]
        assert left == []
    finally:
        for channel in waiting:
            with contextlib.suppress(AmiError):
                await ami.send(actions.Hangup(channel=channel))
        for queue in (QUEUE_UK, QUEUE_EN):
            with contextlib.suppress(AmiError):
                await ami.send(actions.QueueRemove(queue=queue, interface=MEMBER))
        await times.clear(QUEUE_UK, QUEUE_EN)
        await times.close()

    async def left_queue() -> bool:
        return any(isinstance(e, QueueCallerLeave) and e.uniqueid == first.uniqueid for e in seen.events)

    await eventually(left_queue, what="the caller leaves the queue when they hang up")
    await seen.close()

    # The first caller really heard it: their leg's recording (testcall-<id>.wav, started by MixMonitor on
    # the calling leg, the first of this test) is, after they joined the queue, louder than the hold music
    # ever is: speech whispered over it.
    recording_start = next(
        e for e in seen.events if e.name == "MixMonitorStart" and e.uniqueid.startswith("testcall-")
    )
    joined = next(e for e in seen.events if isinstance(e, QueueCallerJoin) and e.uniqueid == first.uniqueid)
    assert recording_start.at is not None and joined.at is not None
    recording = await complete_wav(
        hotline.asterisk_path("spool", "monitor", f"{recording_start.uniqueid}.wav")
    )
    music_peak = max(loudness(hotline.asterisk_path("sounds", "hold", "hold-01.wav")))
    in_queue = loudness(recording)[int(((joined.at - recording_start.at).total_seconds() + 1.0) * 10) :]
    assert len(in_queue) > 50, "the recording ends before the caller waited in the queue"
    louder = sum(1 for rms in in_queue if rms > 1.5 * music_peak)
    assert louder >= 10, (louder, music_peak, max(in_queue))
