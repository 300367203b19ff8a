"""Recordings of calls with a consultant: their metadata rows, their retention and a caller's erasure.

Asterisk records (``dialplans/recordings.conf``): when a consultant answers, Queue() runs ``[hotline-record]``
on their channel, which starts MixMonitor (both sides, mixed, WAV/GSM) into the recordings folder
(``recordings/`` under Asterisk's monitor folder) and raises ``HotlineRecordingStarted``; a hangup handler of
that channel stops the recording, so the file is closed, and raises ``HotlineRecordingEnded``. The AMI
listener hands both to :meth:`Recordings.follow`, which writes them in arrival order: a row at the start
(call, consultant, queue, start, file), completed at the end (duration, size, SHA-256 of the closed file).
An end whose start was missed (the hotline restarting) still gets its whole row.

A row whose end was missed (the hotline down when the call ended) is completed from its file once that file
has not been written for a while (:meth:`Recordings.complete_unfinished`, at each start and each purge).

The files are never served by the web console: they stay in Asterisk's spool, readable by Asterisk's user
and group only (0640). :meth:`Recordings.purge` deletes those past the retention (``hotline recordings
purge``, also run by ``hotline purge``) and :meth:`Recordings.erase_calls` a caller's (``hotline caller erase
NUMBER``); both keep the row, marked with when and why its file went.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.ami import UserEvent
from hotline.callbacks import placeholder_call
from hotline.clock import Clock, utc_now
from hotline.db.models import Call, Consultant, Recording

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]

# The folder under Asterisk's monitor folder (asterisk.conf's astspooldir/monitor) that the dialplan records
# into; a row's path is relative to it.
RECORDINGS_SUBDIR = "recordings"
# The recordings folder of an Asterisk of its own (Debian's spool), unless settings.recordings_dir says.
PRODUCTION_FOLDER = Path("/var/spool/asterisk/monitor") / RECORDINGS_SUBDIR
STARTED = "HotlineRecordingStarted"
ENDED = "HotlineRecordingEnded"
# What the dialplan names (recordings/<year>/<month>/<day>/<uniqueid>.WAV): nothing else is ever opened or
# deleted, so an event cannot point the hotline at another file.
FILE = re.compile(r"^recordings/([0-9]{4}/[0-9]{2}/[0-9]{2}/[0-9]{1,12}\.[0-9]{1,10}\.WAV)$")
# A channel's uniqueid: Asterisk's own (1764669600.42), or one given at an Originate (ChannelId).
UNIQUEID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
QUEUE = re.compile(r"^[a-z][a-z0-9_-]{0,47}$")
ENDPOINT = re.compile(r"^c[0-9]{4,9}$")
# A file not written for this long is closed (MixMonitor writes a recording in progress every few seconds).
QUIET = timedelta(minutes=10)
# The prompt that tells a caller calls are recorded (recordings/prompts.yaml): the greeting, which the IVR
# plays first (ivr/menu.yaml's language node); a caller called back hears it when they answer.
NOTICE_PROMPT = "greeting"
# Reasons a file was deleted (recordings.deleted_reason).
RETENTION = "retention"
ERASED = "erased"


@dataclass(frozen=True)
class RecordingEvent:
    """One of the dialplan's two events about a recording, checked."""

    ended: bool
    call_uniqueid: str
    queue: str | None
    # The consultant's phone (PJSIP endpoint, "c1001"), None when the channel was no consultant's.
    endpoint: str | None
    # Relative to the recordings folder.
    path: str
    at: datetime
    # The start as the dialplan noted it (whole seconds), carried by the end event.
    started_at: datetime | None = None

    @classmethod
    def of(cls, event: UserEvent, *, now: Clock = utc_now) -> RecordingEvent | None:
        """The event's recording, or None (logged) when it is not one of ours or a field is malformed."""
        if event.user_event not in (STARTED, ENDED):
            return None
        fields = {key.lower(): value.strip() for key, value in event.fields.items()}
        call = fields.get("call", "")
        match = FILE.fullmatch(fields.get("file", ""))
        if not UNIQUEID.fullmatch(call) or match is None:
            log.error(
                "[%s] %s ignored: malformed call %r or file %r",
                event.uniqueid,
                event.user_event,
                call[:40],
                fields.get("file", "")[:80],
            )
            return None
        queue = fields.get("queue", "")
        endpoint = fields.get("endpoint", "")
        started_at = None
        with contextlib.suppress(ValueError, OverflowError, OSError):
            seconds = int(fields.get("started", ""))
            if 0 < seconds < 2**33:
                started_at = datetime.fromtimestamp(seconds, UTC)
        return cls(
            ended=event.user_event == ENDED,
            call_uniqueid=call,
            queue=queue if QUEUE.fullmatch(queue) else None,
            endpoint=endpoint if ENDPOINT.fullmatch(endpoint) else None,
            path=match.group(1),
            at=event.at or now(),
            started_at=started_at,
        )


@dataclass(frozen=True)
class RecordingPurgeReport:
    files_deleted: int
    # Rows past the retention whose file was already gone (deleted by hand, a disk replaced): marked too.
    files_missing: int
    # Files in the folder without a row (their start and end were both missed), past the retention: deleted.
    unrecorded_deleted: int


def file_digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a closed file (read in blocks: a long call's file is tens of megabytes)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def wav_seconds(path: Path) -> float | None:
    """A closed WAV file's length in seconds (its data chunk over the format's bytes per second: exact for GSM
    in WAV and for PCM); None when it is no WAV file or its header is incomplete."""
    with path.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        byte_rate = 0
        while len(chunk := fh.read(8)) == 8:
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"fmt ":
                fmt = fh.read(size + (size & 1))
                if len(fmt) >= 12:
                    byte_rate = struct.unpack("<I", fmt[8:12])[0]
                continue
            if name == b"data":
                return round(size / byte_rate, 3) if byte_rate > 0 else None
            fh.seek(size + (size & 1), os.SEEK_CUR)
    return None


def _delete(path: Path) -> bool:
    """Delete a recording's file; False when it was gone already."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


class Recordings:
    """The recordings' rows over the database and their files in ``folder`` (the recordings folder as the
    hotline sees it)."""

    def __init__(self, sessions: Sessions, folder: Path, *, now: Clock = utc_now) -> None:
        self.sessions = sessions
        self.folder = folder
        self.now = now
        self._events: asyncio.Queue[RecordingEvent] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    # -- following Asterisk ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Follow the events; first, complete the rows whose end was missed while the hotline was down."""
        self._task = asyncio.create_task(self._run(), name="recordings")

    async def _complete_at_start(self) -> None:
        try:
            await self.complete_unfinished()
        except Exception:
            log.exception("recordings whose end was missed not completed; again at the next start")

    async def close(self, *, drain_timeout: float = 5.0) -> None:
        """Write what was reported (within ``drain_timeout``), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._events.join(), drain_timeout)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def follow(self, event: UserEvent) -> None:
        """Take one of the dialplan's recording events (from the AMI listener); written in arrival order."""
        recording = RecordingEvent.of(event, now=self.now)
        if recording is not None:
            self._events.put_nowait(recording)

    async def _run(self) -> None:
        await self._complete_at_start()
        while True:
            event = await self._events.get()
            try:
                if event.ended:
                    await self.ended(event)
                else:
                    await self.started(event)
            except Exception:
                # A database or file error must not stop the recordings that follow: logged with the call.
                log.exception("[%s] recording %s not written", event.call_uniqueid, event.path)
            finally:
                self._events.task_done()

    async def started(self, event: RecordingEvent) -> None:
        """The row of a recording that began (idempotent: a second start of the same file changes nothing)."""
        async with self.sessions() as db, db.begin():
            if await db.scalar(select(Recording.id).where(Recording.path == event.path)) is not None:
                return
            db.add(await self._new_row(db, event, started_at=event.at))
        log.info("[%s] recording started: %s", event.call_uniqueid, event.path)

    async def ended(self, event: RecordingEvent) -> Recording | None:
        """Complete the row of a recording whose file Asterisk closed: duration, size and checksum."""
        try:
            size, sha256 = await asyncio.to_thread(file_digest, self.folder / event.path)
        except OSError as exc:
            log.error("[%s] recording %s cannot be read: %s", event.call_uniqueid, event.path, exc)
            size, sha256 = None, None
        try:
            return await self._complete(event, size, sha256)
        except IntegrityError:
            # The start's row was written meanwhile by another writer (a second hotline process).
            return await self._complete(event, size, sha256)

    async def _complete(self, event: RecordingEvent, size: int | None, sha256: str | None) -> Recording:
        async with self.sessions() as db, db.begin():
            row = await db.scalar(select(Recording).where(Recording.path == event.path))
            if row is None:
                log.warning("[%s] recording %s: its start was not seen", event.call_uniqueid, event.path)
                row = await self._new_row(db, event, started_at=event.started_at or event.at)
                db.add(row)
            if row.call_id is None:
                row.call_id = await self._call_id(db, event.call_uniqueid)
            row.duration_seconds = max(0.0, round((event.at - row.started_at).total_seconds(), 3))
            row.size_bytes = size
            row.sha256 = sha256
        log.info(
            "[%s] recording ended: %s, %.1f s, %s bytes",
            event.call_uniqueid,
            event.path,
            row.duration_seconds or 0.0,
            size,
        )
        return row

    async def _new_row(self, db: AsyncSession, event: RecordingEvent, *, started_at: datetime) -> Recording:
        consultant_id = None
        if event.endpoint is not None:
            consultant_id = await db.scalar(
                select(Consultant.id).where(Consultant.sip_username == event.endpoint)
            )
        return Recording(
            call_id=await self._call_id(db, event.call_uniqueid),
            call_uniqueid=event.call_uniqueid,
            consultant_id=consultant_id,
            queue=event.queue,
            started_at=started_at,
            path=event.path,
        )

    @staticmethod
    async def _call_id(db: AsyncSession, uniqueid: str) -> int | None:
        """The caller's call; for a call-back (a placeholder's uniqueid), the call in which they asked."""
        found = await db.scalar(select(Call.id).where(Call.uniqueid == uniqueid))
        if found is None and (call := await placeholder_call(db, uniqueid)) is not None:
            found = call.id
        return found

    async def complete_unfinished(self, *, quiet: timedelta = QUIET) -> int:
        """Complete the rows whose end was never heard (the hotline was down when the call ended): once a
        file has not been written for ``quiet`` (a recording in progress is written every few seconds), it
        is closed; its size, checksum and length (from its header) are taken. Returns how many."""
        async with self.sessions() as db:
            rows = (
                await db.execute(
                    select(Recording.id, Recording.path).where(
                        Recording.sha256.is_(None), Recording.deleted_at.is_(None)
                    )
                )
            ).all()
        completed = 0
        for row_id, path in rows:
            if not FILE.fullmatch(f"{RECORDINGS_SUBDIR}/{path}"):
                continue
            file = self.folder / path
            try:
                # The file system's times are the real clock's, whatever clock the hotline is given.
                if time.time() - file.stat().st_mtime < quiet.total_seconds():
                    continue  # still being recorded, or only just closed: its end may yet be heard
                size, sha256 = await asyncio.to_thread(file_digest, file)
                seconds = await asyncio.to_thread(wav_seconds, file)
            except OSError:
                continue  # gone: the purge marks it in its time
            async with self.sessions() as db, db.begin():
                row = await db.get(Recording, row_id)
                if row is None or row.sha256 is not None:
                    continue
                row.size_bytes, row.sha256, row.duration_seconds = size, sha256, seconds
                if row.call_id is None:
                    row.call_id = await self._call_id(db, row.call_uniqueid)
            completed += 1
            log.warning("[%s] recording %s completed without its end event", row.call_uniqueid, path)
        return completed

    # -- retention and erasure ------------------------------------------------------------------------------
    async def purge(self, retention: timedelta, *, now: datetime) -> RecordingPurgeReport:
        """Delete the files of recordings that started before ``now - retention`` and mark their rows;
        also files of the folder that no row names, once they are that old. Idempotent."""
        before = now - retention
        async with self.sessions() as db:
            rows = (
                await db.execute(
                    select(Recording.id, Recording.path).where(
                        Recording.started_at < before, Recording.deleted_at.is_(None)
                    )
                )
            ).all()
        deleted, missing = await self._delete_and_mark([(i, p) for i, p in rows], RETENTION, now)
        unrecorded = await self._purge_unrecorded(before)
        return RecordingPurgeReport(
            files_deleted=deleted, files_missing=missing, unrecorded_deleted=unrecorded
        )

    async def erase_calls(
        self, uniqueids: Iterable[str], *, now: datetime, call_ids: Iterable[int] = ()
    ) -> int:
        """Delete the recordings of these calls (a caller's erasure: by the caller's channel, or by the call's
        row, which a call-back's recording names too) and mark their rows; returns how many files were
        deleted."""
        wanted, ids = sorted(set(uniqueids)), sorted(set(call_ids))
        if not wanted and not ids:
            return 0
        async with self.sessions() as db:
            rows = (
                await db.execute(
                    select(Recording.id, Recording.path).where(
                        or_(Recording.call_uniqueid.in_(wanted), Recording.call_id.in_(ids)),
                        Recording.deleted_at.is_(None),
                    )
                )
            ).all()
        deleted, _missing = await self._delete_and_mark([(i, p) for i, p in rows], ERASED, now)
        return deleted

    async def _delete_and_mark(
        self, rows: list[tuple[int, str]], reason: str, now: datetime
    ) -> tuple[int, int]:
        deleted = missing = 0
        for row_id, path in rows:
            # A row's path was checked when it was written; checked again before anything is deleted.
            if not FILE.fullmatch(f"{RECORDINGS_SUBDIR}/{path}"):
                log.error("recording %d: malformed path %r left alone", row_id, path[:80])
                continue
            if await asyncio.to_thread(_delete, self.folder / path):
                deleted += 1
            else:
                missing += 1
            async with self.sessions() as db, db.begin():
                row = await db.get(Recording, row_id)
                if row is not None and row.deleted_at is None:
                    row.deleted_at = now
                    row.deleted_reason = reason
        if rows:
            log.info("recordings (%s): %d files deleted, %d already gone", reason, deleted, missing)
        return deleted, missing

    async def _purge_unrecorded(self, before: datetime) -> int:
        files = await asyncio.to_thread(self._old_files, before)
        if not files:
            return 0
        async with self.sessions() as db:
            known = set((await db.scalars(select(Recording.path).where(Recording.path.in_(files)))).all())
        deleted = 0
        for path in sorted(set(files) - known):
            if await asyncio.to_thread(_delete, self.folder / path):
                deleted += 1
                log.warning("recording %s had no row; deleted past the retention", path)
        return deleted

    def _old_files(self, before: datetime) -> list[str]:
        """Relative paths of the recordings' files last written before ``before``."""
        if not self.folder.is_dir():
            return []
        cutoff = before.timestamp()
        found = []
        for folder, _dirs, names in os.walk(self.folder):
            for name in names:
                full = Path(folder) / name
                relative = full.relative_to(self.folder).as_posix()
                if not FILE.fullmatch(f"{RECORDINGS_SUBDIR}/{relative}"):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if full.stat().st_mtime < cutoff:
                        found.append(relative)
        return found
