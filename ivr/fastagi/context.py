"""The current call's uniqueid, for log lines: set per session task, read by `UniqueidLogFilter`."""

from __future__ import annotations

import logging
from contextvars import ContextVar

__all__ = ["NO_UNIQUEID", "UniqueidLogFilter", "current_uniqueid"]

NO_UNIQUEID = "-"

#: The uniqueid of the call whose FastAGI session runs in this task (and the tasks it starts).
current_uniqueid: ContextVar[str] = ContextVar("current_uniqueid", default=NO_UNIQUEID)


class UniqueidLogFilter(logging.Filter):
    """Puts `record.uniqueid` on every record (the current call's, or "-"), for `%(uniqueid)s` in formats.

    Attach it to handlers (`handler.addFilter(UniqueidLogFilter())`) so records of every logger get it.
    A record that already carries a `uniqueid` (`extra={"uniqueid": ...}`) keeps it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "uniqueid"):
            record.uniqueid = current_uniqueid.get()
        return True
