"""Reconciliation: the call records made true from Asterisk's own record of each call.

Asterisk writes one JSON line per CDR of every call into the hotline (``asterisk_conf/cdr_custom.conf``:
``<astlogdir>/cdr-custom/hotline-calls.json``), whether or not the Python side was alive, frozen or
reading events late. When the hotline starts, and each time its AMI connection comes back, the lines
written since the last reading are applied through the call recorder: a call that has no row gets one,
and every call gets Asterisk's start, answer and end times.

Where the reading stopped is kept in ``<state_dir>/cdr-position.json`` (the file's inode and the byte
offset of the last complete line), written only after the records are in the database; a file that was
replaced or truncated is read again from its start (the writes are idempotent).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hotline.call_recorder import CallRecorder
from hotline.calls import NewCall
from hotline.phone import is_presentation_restricted, normalise_caller

log = logging.getLogger(__name__)

# One reading takes at most this much of the file; the rest is read by the next reading.
MAX_READ = 64 * 1024 * 1024
IVR_FIELDS = ("outcome", "queue", "language", "topic")


@dataclass(frozen=True)
class AsteriskCall:
    """A call into the hotline as Asterisk recorded it (its CDRs merged: a queued call may have several)."""

    uniqueid: str
    linkedid: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    caller: str
    channel: str
    dialed: str
    # The caller withheld their number (Asterisk's CALLERID(pres) said so).
    withheld: bool = False
    ivr: dict[str, str] = field(default_factory=dict)

    def merged(self, other: AsteriskCall) -> AsteriskCall:
        answers = [t for t in (self.answered_at, other.answered_at) if t is not None]
        return AsteriskCall(
            uniqueid=self.uniqueid,
            linkedid=self.linkedid,
            started_at=min(self.started_at, other.started_at),
            answered_at=min(answers) if answers else None,
            ended_at=max(self.ended_at, other.ended_at),
            caller=self.caller,
            channel=self.channel,
            dialed=other.dialed or self.dialed,
            withheld=self.withheld or other.withheld,
            ivr={**self.ivr, **{k: v for k, v in other.ivr.items() if v}},
        )


class BadRecord(ValueError):
    """A line of Asterisk's record that cannot be a call's record."""


def _time(value: Any, name: str) -> datetime | None:
    if value in (None, "", 0, 0.0, "0"):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError) as exc:
        raise BadRecord(f"{name} is not a time: {value!r}") from exc
    if not 0 < seconds < 2**33:
        raise BadRecord(f"{name} is out of range: {value!r}")
    return datetime.fromtimestamp(seconds, UTC)


def parse_record(line: str) -> AsteriskCall | None:
    """One JSON line of ``hotline-calls.json``: the call, or None for a leg that is not a call into the
    hotline. Raises :class:`BadRecord` for a line that is not a record."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadRecord(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRecord("not a JSON object")
    if str(data.get("hotline", "")) != "1":
        return None
    uniqueid = str(data.get("uniqueid", ""))[:64]
    started = _time(data.get("start"), "start")
    ended = _time(data.get("end"), "end")
    if not uniqueid or started is None or ended is None:
        raise BadRecord("a call without uniqueid, start or end")
    return AsteriskCall(
        uniqueid=uniqueid,
        linkedid=str(data.get("linkedid", ""))[:64],
        started_at=started,
        answered_at=_time(data.get("answer"), "answer"),
        ended_at=ended,
        caller=str(data.get("src", "")),
        channel=str(data.get("channel", ""))[:128],
        dialed=str(data.get("dst", ""))[:32],
        withheld=is_presentation_restricted(str(data.get("hotline_pres", ""))),
        ivr={name: str(data.get(f"hotline_{name}", ""))[:32] for name in IVR_FIELDS},
    )


def merge(records: Iterable[AsteriskCall]) -> list[AsteriskCall]:
    calls: dict[str, AsteriskCall] = {}
    for record in records:
        known = calls.get(record.uniqueid)
        calls[record.uniqueid] = record if known is None else known.merged(record)
    return list(calls.values())


@dataclass(frozen=True)
class Position:
    inode: int
    offset: int


@dataclass(frozen=True)
class Reading:
    calls: int
    lines: int
    rejected: int


class Reconciler:
    """Applies Asterisk's record of the calls to the database, from where the last reading stopped."""

    def __init__(
        self,
        record_file: Path,
        position_file: Path,
        recorder: CallRecorder,
        *,
        region: str,
        keep_withheld: bool = True,
    ) -> None:
        self.record_file = record_file
        self.position_file = position_file
        self.recorder = recorder
        self.region = region
        self.keep_withheld = keep_withheld

    def _position(self) -> Position:
        try:
            data = json.loads(self.position_file.read_text())
            return Position(int(data["inode"]), int(data["offset"]))
        except (OSError, ValueError, KeyError, TypeError):
            return Position(0, 0)

    def _save(self, position: Position) -> None:
        self.position_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.position_file.with_name(f".{self.position_file.name}.tmp")
        tmp.write_text(json.dumps({"inode": position.inode, "offset": position.offset}))
        os.replace(tmp, self.position_file)

    def _read(self) -> tuple[list[tuple[int, str]], Position] | None:
        """The complete lines written since the last reading (with their line numbers in this reading)."""
        try:
            with self.record_file.open("rb") as fh:
                stat = os.fstat(fh.fileno())
                position = self._position()
                start = position.offset
                if position.inode != stat.st_ino or position.offset > stat.st_size:
                    start = 0  # a new or truncated file: read it all again
                fh.seek(start)
                data = fh.read(MAX_READ)
        except FileNotFoundError:
            return None
        end = data.rfind(b"\n") + 1  # a line Asterisk is still writing waits for the next reading
        lines = data[:end].decode("utf-8", errors="replace").splitlines()
        return list(enumerate(lines, 1)), Position(stat.st_ino, start + end)

    async def run(self) -> Reading:
        """Read and apply what Asterisk recorded since the last reading; never raises for a bad line."""
        read = self._read()
        if read is None:
            log.info("no record of Asterisk's yet at %s: nothing to reconcile", self.record_file)
            return Reading(0, 0, 0)
        lines, position = read
        records: list[AsteriskCall] = []
        rejected = 0
        for number, line in lines:
            if not line.strip():
                continue
            try:
                record = parse_record(line)
            except BadRecord as exc:
                rejected += 1
                log.warning("line %d of Asterisk's call record %s skipped: %s", number, self.record_file, exc)
                continue
            if record is not None:
                records.append(record)
        calls = merge(records)
        for call in calls:
            self.recorder.reconciled(
                NewCall(
                    uniqueid=call.uniqueid,
                    caller=normalise_caller(
                        call.caller,
                        self.region,
                        presentation_restricted=call.withheld,
                        keep_restricted=self.keep_withheld,
                    ),
                    linkedid=call.linkedid or None,
                    channel=call.channel,
                    dialed=call.dialed,
                    started_at=call.started_at,
                    answered_at=call.answered_at,
                ),
                ended_at=call.ended_at,
                **{name: value or None for name, value in call.ivr.items()},
            )
        await self.recorder.drain()
        self._save(position)
        if calls or rejected:
            log.info(
                "reconciled %d calls from Asterisk's record (%d lines, %d rejected)",
                len(calls),
                len(lines),
                rejected,
            )
        return Reading(len(calls), len(lines), rejected)
