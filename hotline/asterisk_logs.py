"""Asterisk's own logs, kept no longer than ``log_retention_days``: rotated, and the rotated files deleted.

``security.log`` holds the addresses and account names of every refused SIP request, ``messages.log``
Asterisk's notices, ``queue_log`` every queue event with the caller's channel: personal data, with a
retention like the call records'. ``hotline purge`` (run daily) asks the running Asterisk to rotate them
(AMI ``LoggerRotate``, by the configuration user: class "system") and deletes the rotated files last
written before the retention. Asterisk names a rotated file ``<log>.<epoch seconds>``
(``rotatestrategy = timestamp`` in ``asterisk_conf/logger.conf``); the age is read from the file itself.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hotline.ami import AmiError, send_once
from hotline.ami.actions import LoggerRotate
from hotline.settings import Settings

log = logging.getLogger(__name__)

#: Files of an earlier day: one of our logs (asterisk_conf/logger.conf, queue_log) and the rotation's suffix.
ROTATED = re.compile(r"^(?:messages\.log|security\.log|queue_log)\.[0-9]{1,12}$")


@dataclass(frozen=True)
class LogsReport:
    rotated: bool  # Asterisk rotated its logs now
    deleted: int  # rotated files past the retention, deleted


def expired_logs(folder: Path, retention: timedelta, *, now: datetime) -> list[Path]:
    """The rotated log files in ``folder`` last written before ``now - retention``, oldest first."""
    if not folder.is_dir():
        return []
    oldest = (now - retention).timestamp()
    expired = []
    for path in folder.iterdir():
        if ROTATED.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            written = path.stat().st_mtime
            if written < oldest:
                expired.append((written, path))
    return [path for _, path in sorted(expired)]


async def rotate(settings: Settings) -> bool:
    """Have the running Asterisk rotate its logs; False (logged) when it cannot be reached."""
    try:
        await send_once(settings, LoggerRotate(), username=settings.ami_config_username)
    except AmiError as exc:
        log.warning("Asterisk's logs not rotated: %s", exc)
        return False
    return True


async def rotate_and_prune(
    settings: Settings, folder: Path, retention: timedelta, *, now: datetime
) -> LogsReport:
    """Rotate Asterisk's logs, then delete the rotated files past the retention."""
    rotated = await rotate(settings)
    deleted = 0
    for path in expired_logs(folder, retention, now=now):
        try:
            path.unlink()
        except OSError as exc:
            log.warning("rotated log %s not deleted: %s", path.name, exc)
            continue
        deleted += 1
    return LogsReport(rotated=rotated, deleted=deleted)
