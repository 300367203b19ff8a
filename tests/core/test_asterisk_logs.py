"""Which of Asterisk's rotated logs are past the retention (files on disk, ages from the files)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotline.asterisk_logs import expired_logs

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def written(folder: Path, name: str, days_ago: float) -> Path:
    path = folder / name
    path.write_text("line\n")
    at = (NOW - timedelta(days=days_ago)).timestamp()
    os.utime(path, (at, at))
    return path


def test_only_rotated_logs_written_before_the_retention_expire(tmp_path: Path) -> None:
    old_security = written(tmp_path, "security.log.1790000000", 100)
    old_messages = written(tmp_path, "messages.log.1789000000", 120)
    old_queue_log = written(tmp_path, "queue_log.1790000001", 95)
    written(tmp_path, "security.log.1796000000", 10)  # within the retention
    written(tmp_path, "security.log", 400)  # the current log: Asterisk's, never ours to delete
    written(tmp_path, "cdr-custom.1790000000", 400)  # not one of the logs
    written(tmp_path, "security.log.1790000000.gz", 400)  # not a name Asterisk gives
    (tmp_path / "messages.log.1").mkdir()  # not a file
    os.symlink(old_security, tmp_path / "security.log.1")  # a link: never followed

    assert expired_logs(tmp_path, timedelta(days=90), now=NOW) == [old_messages, old_security, old_queue_log]


def test_a_missing_folder_has_nothing_to_delete(tmp_path: Path) -> None:
    assert expired_logs(tmp_path / "none", timedelta(days=90), now=NOW) == []
