"""Recordings of calls with a consultant, end to end: a caller reaches a real SIP phone (baresip) logged in as
a consultant, speaks (a prompt played on the caller's side: baresip sends silence), and hangs up. The
recording is on disk, private, both sides mixed, as long as the talk; its row names the call, the consultant,
the queue and the file's checksum; the purge after the retention and a caller's erasure delete it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from devtools.testcall import TestCallResult, place_test_call, sound_seconds, speak
from hotline.ami import Newexten
from hotline.asterisk_config import RunAs
from hotline.db import Call, Recording
from hotline.personal_data import erase_number
from hotline.recordings import ERASED, RETENTION, file_digest
from launcher.runner import Hotline
from tests.e2e.conftest import (
    Desk,
    ami_events,
    consultant_desks,
    eventually,
    hang_up,
    next_connect,
    running_hotline,
)

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/baresip").exists(), reason="baresip (Debian baresip-core) is not installed"
)

PL_JOBS = ["1", "1", "0"]  # Polish, job offers, a consultant
# Each side sends a tone of its own, so the recording can be shown to hold both: the caller 600 Hz, the
# consultant's phone 1400 Hz (baresip ends its call when its sound runs out: longer than any test's talk).
CALLER_HZ = 600
CONSULTANT_HZ = 1400
# Seconds the caller speaks (their tone's length): the caller hangs up once it has played.
TALK_SECONDS = 4


def tone(path: Path, hertz: int, seconds: int) -> Path:
    """A sine tone as Asterisk and baresip play it without transcoding: 8 kHz, 16-bit mono WAV."""
    format_ = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed"]
    synth = ["synth", str(seconds), "sine", str(hertz), "gain", "-6"]
    subprocess.run(["sox", "-n", *format_, str(path), *synth], check=True)
    path.chmod(0o644)
    return path


def band_rms(path: Path, low: int, high: int) -> float:
    """The RMS amplitude (0..1) of a sound file in the band ``low``-``high`` Hz (sox's sinc filter)."""
    out = subprocess.run(
        ["sox", str(path), "-n", "sinc", f"{low}-{high}", "stat"], check=True, capture_output=True, text=True
    ).stderr
    return float(next(line for line in out.splitlines() if line.startswith("RMS")).split()[-1])


def caller_seconds(recording: Path, pcm: Path) -> float:
    """Seconds of the caller's tone in a recording (its band, as 16-bit PCM, measured in 20 ms frames)."""
    subprocess.run(
        ["sox", str(recording), "-b", "16", "-e", "signed", str(pcm), "sinc", "550-650"], check=True
    )
    return sound_seconds(pcm)


@pytest.fixture(scope="module")
async def desk(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Hotline, Desk]]:
    folder = tmp_path_factory.mktemp("recordings")
    sound = tone(folder / "consultant.wav", CONSULTANT_HZ, 60)
    async with (
        running_hotline(database_url, folder / "state", "recordings") as hotline,
        consultant_desks(hotline, folder, {"rec_pl": ["jobs:pl:3"]}, sound=sound, logged_in=True) as desks,
    ):
        # The caller's side: a tone among the instance's sounds, where Asterisk can play it.
        tone(hotline.asterisk_path("sounds", "test-caller-tone.wav"), CALLER_HZ, TALK_SECONDS)
        yield hotline, desks["rec_pl"]


async def recording_of(hotline: Hotline, call: TestCallResult) -> Recording | None:
    assert hotline.consultants is not None
    async with hotline.consultants.sessions() as session:
        return await session.scalar(select(Recording).where(Recording.call_uniqueid == call.uniqueid))


async def call_id(hotline: Hotline, call: TestCallResult) -> int | None:
    assert hotline.consultants is not None
    async with hotline.consultants.sessions() as session:
        return await session.scalar(select(Call.id).where(Call.uniqueid == call.uniqueid))


async def recorded_call(hotline: Hotline) -> tuple[TestCallResult, Recording]:
    """A caller reaches the consultant, speaks for about TALK_SECONDS, and hangs up; the completed row."""
    assert hotline.ami is not None and hotline.asterisk is not None and hotline.recordings is not None
    async with ami_events(hotline) as seen:
        call = await place_test_call(hotline.ami, "19524", PL_JOBS, until="queue", hang_up=False, timeout=60)
        assert call.asterisk_queue == "jobs-pl", call.describe()
        try:
            await next_connect(seen, uniqueid=call.uniqueid)
            # The caller "speaks": their tone, played on their side of the line; then they hang up.
            await speak(
                hotline.ami, call, hotline.asterisk.paths.seen_by_asterisk("sounds", "test-caller-tone")
            )

            async def spoken() -> bool:
                while not seen.empty():
                    event = seen.get_nowait()
                    if (
                        isinstance(event, Newexten)
                        and event.channel == call.calling_channel
                        and event.context == "hotline-testcall-say"
                        and event.application == "Wait"
                    ):
                        return True
                return False

            await eventually(spoken, timeout=30, what="the caller has spoken")
        finally:
            await hang_up(hotline, call)

    async def completed() -> Recording | None:
        row = await recording_of(hotline, call)
        return row if row is not None and row.sha256 is not None else None

    return call, await eventually(completed, what="the recording's checksum")


def sox_seconds(path: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True).stdout)


async def test_a_call_with_a_consultant_is_recorded_with_its_metadata(
    desk: tuple[Hotline, Desk], tmp_path: Path
) -> None:
    hotline, consultant = desk
    assert hotline.recordings is not None and hotline.asterisk is not None
    call, row = await recorded_call(hotline)
    file = hotline.recordings.folder / row.path
    # Where it lives: the instance's spool, private to Asterisk's user and group.
    assert file.is_relative_to(hotline.asterisk.paths.host("spool", "monitor", "recordings"))
    assert file.suffix == ".WAV"
    info = file.stat()
    assert info.st_size > 0
    assert info.st_mode & 0o777 == 0o640
    assert info.st_gid == RunAs.from_root(hotline.settings.asterisk_root).gid
    assert file.parent.stat().st_mode & 0o777 == 0o750
    # The metadata: the call, the consultant, the queue, the file as it is.
    assert row.call_id is not None and row.call_id == await call_id(hotline, call)
    assert row.consultant_id == consultant.info.id
    assert row.queue == "jobs-pl"
    assert (row.size_bytes, row.sha256) == file_digest(file)
    assert row.deleted_at is None and row.deleted_reason is None
    # As long as the talk (the file's own length, read by sox), which lasted at least TALK_SECONDS.
    assert row.duration_seconds is not None
    length = sox_seconds(file)
    assert TALK_SECONDS - 0.5 <= length < TALK_SECONDS + 5
    assert abs(length - row.duration_seconds) < 1.5, (length, row.duration_seconds)
    # Both sides, mixed: the caller's tone and the consultant's, each well above a band where nobody spoke.
    caller, consultant_side = band_rms(file, 550, 650), band_rms(file, 1350, 1450)
    quiet = band_rms(file, 2450, 2550)
    assert caller > 0.02 and consultant_side > 0.02 and quiet < 0.005, (caller, consultant_side, quiet)
    # The caller is heard for most of the talk (20 ms frames above a quiet line's loudness).
    assert caller_seconds(file, tmp_path / "caller.wav") >= TALK_SECONDS - 1.5
    megabytes_per_hour = row.size_bytes / row.duration_seconds * 3600 / 1e6
    print(
        f"recording: {row.duration_seconds:.1f} s, {row.size_bytes} bytes, {megabytes_per_hour:.2f} MB/hour"
    )
    assert megabytes_per_hour < 7


async def test_the_purge_deletes_a_recording_past_its_retention_and_marks_the_row(
    desk: tuple[Hotline, Desk],
) -> None:
    hotline, _ = desk
    assert hotline.recordings is not None
    call, row = await recorded_call(hotline)
    file = hotline.recordings.folder / row.path
    retention = timedelta(days=hotline.settings.recording_retention_days)
    # The clock moved to the day before the retention ends: kept.
    await hotline.recordings.purge(retention, now=row.started_at + retention - timedelta(hours=1))
    assert file.exists()
    later = row.started_at + retention + timedelta(hours=1)
    report = await hotline.recordings.purge(retention, now=later)
    assert report.files_deleted >= 1
    assert not file.exists()
    marked = await recording_of(hotline, call)
    assert marked is not None
    assert (marked.deleted_at, marked.deleted_reason) == (later, RETENTION)
    # The rest of the row stays: the figures and the audit keep it.
    assert (marked.sha256, marked.call_id, marked.path) == (row.sha256, row.call_id, row.path)


async def test_a_callers_erasure_deletes_their_recordings(desk: tuple[Hotline, Desk]) -> None:
    hotline, _ = desk
    assert hotline.recordings is not None and hotline.consultants is not None
    call, row = await recorded_call(hotline)
    file = hotline.recordings.folder / row.path
    assert file.exists()
    report = await erase_number(
        hotline.consultants.sessions, call.caller, live=hotline.live, recordings=hotline.recordings
    )
    assert report.recordings == 1 and report.calls == 1
    assert not file.exists()
    marked = await recording_of(hotline, call)
    assert marked is not None and marked.deleted_reason == ERASED and marked.deleted_at is not None
    assert not os.path.exists(file)
