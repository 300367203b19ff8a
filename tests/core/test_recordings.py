"""The recordings' core (:mod:`hotline.recordings`) on the test database (SQLite and PostgreSQL): the
dialplan's events become rows, the checksum is the closed file's, the purge after the retention and a
caller's erasure delete the files and mark the rows, and nothing but the recordings' own names is ever
touched.

The clock is the test's: each test lives on days of its own, long ago, so a purge never touches another
test's recordings."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import random
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hotline.ami import UserEvent
from hotline.db import Call, ConsoleUser, Consultant, Recording
from hotline.personal_data import erase_number, export_number
from hotline.recordings import (
    ENDED,
    ERASED,
    RETENTION,
    STARTED,
    RecordingEvent,
    Recordings,
    wav_seconds,
)
from tests.console.helpers import unique_mobile

Sessions = async_sessionmaker[AsyncSession]
RETAIN = timedelta(days=90)
_serial = itertools.count(1)


def uniqueid(day: datetime) -> str:
    return f"{int(day.timestamp())}.{random.randrange(10**6)}{next(_serial)}"


def event(
    name: str,
    call: str,
    file: str,
    at: datetime,
    *,
    queue: str = "jobs-pl",
    endpoint: str = "c1001",
    started: datetime | None = None,
    **extra: str,
) -> UserEvent:
    fields = {"Event": "UserEvent", "UserEvent": name, "Call": call, "Queue": queue}
    fields |= {"Endpoint": endpoint, "File": file, **extra}
    if started is not None:
        fields["Started"] = str(int(started.timestamp()))
    return UserEvent(
        name="UserEvent", uniqueid="1.2", channel="PJSIP/c1001-1", at=at, fields=fields, user_event=name
    )


def recording_file(folder: Path, day: datetime, content: bytes = b"RIFF" + b"\x01" * 2000) -> str:
    """A closed recording of ``day`` in ``folder``; its path as the dialplan names it (``recordings/…``)."""
    relative = f"{day:%Y/%m/%d}/{uniqueid(day)}.WAV"
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return f"recordings/{relative}"


async def add_call(sessions: Sessions, day: datetime, number: str | None = None) -> Call:
    call = Call(uniqueid=uniqueid(day), caller_number=number, caller_raw=number, started_at=day)
    async with sessions() as db, db.begin():
        db.add(call)
    return call


async def add_consultant(sessions: Sessions) -> Consultant:
    name = f"rec-{random.randrange(10**9)}"
    async with sessions() as db, db.begin():
        user = ConsoleUser(username=name, display_name=name, password_hash="x", role="consultant")
        db.add(user)
        await db.flush()
        consultant = Consultant(
            console_user_id=user.id,
            sip_username=f"c{random.randrange(10**8, 10**9)}",
            sip_digest="",
            site="centre",
        )
        db.add(consultant)
    return consultant


async def row_of(sessions: Sessions, path: str) -> Recording:
    async with sessions() as db:
        row = await db.scalar(select(Recording).where(Recording.path == path.removeprefix("recordings/")))
    assert row is not None, path
    return row


async def record(
    recordings: Recordings, call: Call, day: datetime, *, seconds: float = 42.5, endpoint: str = "c1001"
) -> str:
    """A whole recording of ``call``: its file, the start and the end as the dialplan reports them."""
    file = recording_file(recordings.folder, day)
    start = RecordingEvent.of(event(STARTED, call.uniqueid, file, day, endpoint=endpoint))
    end = RecordingEvent.of(
        event(ENDED, call.uniqueid, file, day + timedelta(seconds=seconds), endpoint=endpoint, started=day)
    )
    assert start is not None and end is not None
    await recordings.started(start)
    await recordings.ended(end)
    return file


async def test_a_recording_gets_its_row_at_the_start_and_its_checksum_at_the_end(
    db_sessions: Sessions, tmp_path: Path
) -> None:
    day = datetime(2013, 5, 6, 10, 0, 0, 250000, tzinfo=UTC)
    recordings = Recordings(db_sessions, tmp_path)
    call = await add_call(db_sessions, day)
    consultant = await add_consultant(db_sessions)
    file = recording_file(tmp_path, day, b"wav49 bytes" * 300)
    start = RecordingEvent.of(event(STARTED, call.uniqueid, file, day, endpoint=consultant.sip_username))
    assert start is not None
    await recordings.started(start)
    await recordings.started(start)  # a start seen twice changes nothing
    row = await row_of(db_sessions, file)
    assert (row.call_id, row.call_uniqueid, row.consultant_id) == (call.id, call.uniqueid, consultant.id)
    assert (row.queue, row.started_at, row.path) == ("jobs-pl", day, file.removeprefix("recordings/"))
    assert row.sha256 is None and row.duration_seconds is None and row.size_bytes is None

    end = RecordingEvent.of(
        event(ENDED, call.uniqueid, file, day + timedelta(seconds=61.5), endpoint=consultant.sip_username)
    )
    assert end is not None
    await recordings.ended(end)
    row = await row_of(db_sessions, file)
    content = (tmp_path / row.path).read_bytes()
    assert row.sha256 == hashlib.sha256(content).hexdigest()
    assert row.size_bytes == len(content)
    assert row.duration_seconds == 61.5
    assert row.deleted_at is None


async def test_an_end_whose_start_was_missed_still_gets_the_whole_row(
    db_sessions: Sessions, tmp_path: Path
) -> None:
    day = datetime(2013, 5, 7, 9, 30, tzinfo=UTC)
    recordings = Recordings(db_sessions, tmp_path)
    call = await add_call(db_sessions, day)
    file = recording_file(tmp_path, day)
    end = RecordingEvent.of(
        event(ENDED, call.uniqueid, file, day + timedelta(seconds=30), endpoint="c99999", started=day)
    )
    assert end is not None
    await recordings.ended(end)
    row = await row_of(db_sessions, file)
    assert (row.started_at, row.duration_seconds, row.call_id) == (day, 30.0, call.id)
    assert row.consultant_id is None  # no such phone: the row is kept without the consultant
    assert row.sha256 == hashlib.sha256((tmp_path / row.path).read_bytes()).hexdigest()


async def test_a_file_that_cannot_be_read_leaves_the_row_without_a_checksum(
    db_sessions: Sessions, tmp_path: Path
) -> None:
    day = datetime(2013, 5, 8, 9, 30, tzinfo=UTC)
    recordings = Recordings(db_sessions, tmp_path)
    call = await add_call(db_sessions, day)
    file = recording_file(tmp_path, day)
    (tmp_path / file.removeprefix("recordings/")).unlink()
    end = RecordingEvent.of(event(ENDED, call.uniqueid, file, day + timedelta(seconds=5), started=day))
    assert end is not None
    await recordings.ended(end)
    row = await row_of(db_sessions, file)
    assert row.sha256 is None and row.size_bytes is None and row.duration_seconds == 5.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("File", "recordings/../../etc/passwd"),
        ("File", "/etc/passwd"),
        ("File", "recordings/2013/05/08/1.2.WAV/../../x.WAV"),
        ("File", "recordings/2013/05/08/1.2.wav"),
        ("File", "monitor/2013/05/08/1.2.WAV"),
        ("File", ""),
        ("Call", "1.2; rm -rf /"),
        ("Call", "x" * 65),
        ("Call", ""),
    ],
)
def test_an_event_naming_anything_else_is_refused(field: str, value: str) -> None:
    at = datetime(2013, 5, 8, tzinfo=UTC)
    good = event(ENDED, "1700000000.12", "recordings/2013/05/08/1700000000.13.WAV", at)
    assert RecordingEvent.of(good) is not None
    bad = dataclasses.replace(good, fields={**good.fields, field: value})
    assert RecordingEvent.of(bad) is None


def test_other_user_events_and_odd_fields() -> None:
    at = datetime(2013, 5, 8, tzinfo=UTC)
    assert RecordingEvent.of(event("HotlineCallEntered", "1.2", "recordings/2013/05/08/1.3.WAV", at)) is None
    odd = RecordingEvent.of(
        event(
            ENDED, "1.2", "recordings/2013/05/08/1.3.WAV", at, queue="X;evil", endpoint="PJSIP/x", Started="x"
        )
    )
    assert odd is not None
    assert (odd.queue, odd.endpoint, odd.started_at) == (None, None, None)


async def test_the_purge_deletes_the_files_past_the_retention_and_marks_their_rows(
    db_sessions: Sessions, tmp_path: Path
) -> None:
    old_day = datetime(2011, 2, 1, 9, tzinfo=UTC)
    new_day = datetime(2011, 4, 15, 9, tzinfo=UTC)
    recordings = Recordings(db_sessions, tmp_path)
    old = await record(recordings, await add_call(db_sessions, old_day), old_day)
    gone = await record(recordings, await add_call(db_sessions, old_day), old_day)
    (tmp_path / gone.removeprefix("recordings/")).unlink()  # deleted by hand meanwhile
    new = await record(recordings, await add_call(db_sessions, new_day), new_day)
    # Files without a row (start and end both missed): the old one goes, the new one stays.
    orphan_old = recording_file(tmp_path, old_day).removeprefix("recordings/")
    orphan_new = recording_file(tmp_path, new_day).removeprefix("recordings/")
    moment = datetime(2011, 5, 15, tzinfo=UTC)
    for name in (orphan_old, orphan_new):
        stamp = (old_day if name == orphan_old else new_day).timestamp()
        os.utime(tmp_path / name, (stamp, stamp))
    # Files that are not recordings are never touched, however old.
    stranger = tmp_path / "2011" / "notes.txt"
    stranger.write_text("not a recording")
    os.utime(stranger, (old_day.timestamp(), old_day.timestamp()))

    report = await recordings.purge(RETAIN, now=moment)
    assert (report.files_deleted, report.files_missing, report.unrecorded_deleted) == (1, 1, 1)
    assert not (tmp_path / old.removeprefix("recordings/")).exists()
    assert (tmp_path / new.removeprefix("recordings/")).exists()
    assert not (tmp_path / orphan_old).exists() and (tmp_path / orphan_new).exists()
    assert stranger.exists()
    for file in (old, gone):
        row = await row_of(db_sessions, file)
        assert (row.deleted_at, row.deleted_reason) == (moment, RETENTION)
        assert row.sha256 is not None  # the rest of the row stays
    assert (await row_of(db_sessions, new)).deleted_at is None
    # Idempotent: nothing more to do at the same moment.
    again = await recordings.purge(RETAIN, now=moment)
    assert (again.files_deleted, again.files_missing, again.unrecorded_deleted) == (0, 0, 0)


async def test_a_callers_erasure_deletes_the_recordings_of_their_calls_only(
    db_sessions: Sessions, tmp_path: Path
) -> None:
    day = datetime(2012, 9, 3, 11, tzinfo=UTC)
    recordings = Recordings(db_sessions, tmp_path)
    number, other = unique_mobile(), unique_mobile()
    first = await record(recordings, await add_call(db_sessions, day, number), day)
    second = await record(recordings, await add_call(db_sessions, day + timedelta(days=1), number), day)
    kept = await record(recordings, await add_call(db_sessions, day, other), day)
    exported = await export_number(db_sessions, number)
    assert sorted(r["file"] for r in exported["recordings"]) == sorted(
        f.removeprefix("recordings/") for f in (first, second)
    )
    moment = datetime(2012, 9, 10, tzinfo=UTC)
    report = await erase_number(db_sessions, number, recordings=recordings, now=moment)
    assert (report.calls, report.recordings) == (2, 2)
    for file in (first, second):
        assert not (tmp_path / file.removeprefix("recordings/")).exists()
        row = await row_of(db_sessions, file)
        assert (row.deleted_at, row.deleted_reason) == (moment, ERASED)
    assert (tmp_path / kept.removeprefix("recordings/")).exists()
    assert (await row_of(db_sessions, kept)).deleted_at is None
    # Asked again: nothing left to delete.
    assert (await erase_number(db_sessions, number, recordings=recordings, now=moment)).recordings == 0


async def test_followed_events_are_written_in_their_order(db_sessions: Sessions, tmp_path: Path) -> None:
    day = datetime(2013, 6, 3, 12, tzinfo=UTC)
    recordings = Recordings(db_sessions, tmp_path)
    recordings.start()
    call = await add_call(db_sessions, day)
    file = recording_file(tmp_path, day)
    recordings.follow(event(STARTED, call.uniqueid, file, day))
    recordings.follow(event("Unrelated", call.uniqueid, file, day))
    recordings.follow(event(ENDED, call.uniqueid, "recordings/../x.WAV", day))  # refused, logged
    recordings.follow(event(ENDED, call.uniqueid, file, day + timedelta(seconds=7), started=day))
    await recordings.close()
    row = await row_of(db_sessions, file)
    assert (row.started_at, row.duration_seconds) == (day, 7.0)
    assert row.sha256 is not None


async def test_the_table_is_what_the_model_says(db_engine: AsyncEngine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy.engine import Connection

    from hotline.db import Base

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [d for d in compare_metadata(context, Base.metadata) if "recordings" in repr(d)]

    async with db_engine.connect() as connection:
        assert await connection.run_sync(differences) == []


def gsm_wav(path: Path, seconds: int) -> None:
    """A recording as Asterisk writes it: GSM 6.10 in WAV, 8 kHz mono."""
    path.parent.mkdir(parents=True, exist_ok=True)
    command = ["sox", "-n", "-r", "8000", "-c", "1", "-e", "gsm", "-t", "wav", str(path)]
    subprocess.run([*command, "synth", str(seconds), "sine", "440"], check=True)


def test_a_wav_files_length_is_read_from_its_header(tmp_path: Path) -> None:
    gsm_wav(tmp_path / "a.WAV", 3)
    assert wav_seconds(tmp_path / "a.WAV") == pytest.approx(3.0, abs=0.05)
    (tmp_path / "b.WAV").write_bytes(b"RIFF\0\0\0\0WAVEjunk")
    assert wav_seconds(tmp_path / "b.WAV") is None
    (tmp_path / "c.WAV").write_bytes(b"not a wav at all")
    assert wav_seconds(tmp_path / "c.WAV") is None


async def test_a_row_whose_end_was_missed_is_completed_once_its_file_is_quiet(
    db_sessions: Sessions, tmp_path: Path
) -> None:
    day = datetime(2013, 7, 1, 8, tzinfo=UTC)
    recordings = Recordings(db_sessions, tmp_path)
    quiet_file = recording_file(tmp_path, day)
    busy_file = recording_file(tmp_path, day)
    for file in (quiet_file, busy_file):
        gsm_wav(tmp_path / file.removeprefix("recordings/"), 2)
        start = RecordingEvent.of(event(STARTED, (await add_call(db_sessions, day)).uniqueid, file, day))
        assert start is not None
        await recordings.started(start)
    an_hour_ago = time.time() - 3600
    os.utime(tmp_path / quiet_file.removeprefix("recordings/"), (an_hour_ago, an_hour_ago))
    assert await recordings.complete_unfinished() >= 1
    quiet = await row_of(db_sessions, quiet_file)
    content = (tmp_path / quiet.path).read_bytes()
    assert (quiet.sha256, quiet.size_bytes) == (hashlib.sha256(content).hexdigest(), len(content))
    assert quiet.duration_seconds == pytest.approx(2.0, abs=0.05)
    busy = await row_of(db_sessions, busy_file)  # written just now: maybe still being recorded
    assert busy.sha256 is None and busy.duration_seconds is None
