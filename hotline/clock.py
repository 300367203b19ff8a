"""The one real clock; services take a ``Clock`` so tests can pin the time (opening hours, "today")."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
