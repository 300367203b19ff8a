"""The consultants' opening hours: a weekly schedule, public holidays and extra closures, from ``hours.yaml``.

All arithmetic is in the configured time zone (Europe/Warsaw), so daylight saving time needs no care from
callers; every ``datetime`` passed in must be time-zone aware.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from hotline.datafiles import read_data_file
from hotline.settings import Settings

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# How far ahead next_opening looks before concluding the line never opens.
SEARCH_DAYS = 400


class HoursError(Exception):
    """The opening-hours configuration is invalid."""


@dataclass(frozen=True)
class Interval:
    """Open from ``start`` (inclusive) to ``end`` (exclusive), local time of one day."""

    start: time
    end: time


@dataclass(frozen=True)
class Closure:
    """Closed from ``start`` (inclusive) to ``end`` (exclusive); aware datetimes."""

    start: datetime
    end: datetime
    reason: str

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


@functools.lru_cache(maxsize=64)
def _public_holidays(country: str, year: int) -> Mapping[date, str]:
    try:
        calendar = holidays.country_holidays(country, years=year)
    except NotImplementedError as exc:
        raise HoursError(f"no public holidays known for country {country!r}") from exc
    return MappingProxyType(dict(calendar.items()))


@dataclass(frozen=True)
class OpeningHours:
    timezone: ZoneInfo
    weekly: Mapping[int, tuple[Interval, ...]]  # weekday (0 = Monday) → sorted, non-overlapping intervals
    public_holidays: str | None = "PL"  # country code for the `holidays` package, or None
    closures: tuple[Closure, ...] = ()

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"opening hours need an aware datetime, got {at!r}")
        return at.astimezone(self.timezone)

    def holiday(self, day: date) -> str | None:
        """The name of the public holiday on ``day``, or None."""
        if self.public_holidays is None:
            return None
        return _public_holidays(self.public_holidays, day.year).get(day)

    def closed_reason(self, at: datetime) -> str | None:
        """Why consultants are not available at ``at`` (None when they are)."""
        local = self._local(at)
        holiday = self.holiday(local.date())
        if holiday is not None:
            return f"public holiday: {holiday}"
        for closure in self.closures:
            if closure.covers(local):
                return f"closure: {closure.reason}"
        now = local.time()
        if not any(i.start <= now < i.end for i in self.weekly.get(local.weekday(), ())):
            return "outside opening hours"
        return None

    def is_open(self, at: datetime) -> bool:
        return self.closed_reason(at) is None

    def next_opening(self, at: datetime) -> datetime:
        """The first moment at or after ``at`` when consultants are available (``at`` itself if open now).

        Returned in the configured time zone. Raises :class:`HoursError` if nothing opens within a year.
        """
        local = self._local(at)
        for offset in range(SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            if self.holiday(day) is not None:
                continue
            for interval in self.weekly.get(day.weekday(), ()):
                opens = datetime.combine(day, interval.start, self.timezone)
                closes = datetime.combine(day, interval.end, self.timezone)
                candidate = max(opens, local)
                while candidate < closes:
                    closure = next((c for c in self.closures if c.covers(candidate)), None)
                    if closure is None:
                        return candidate
                    candidate = closure.end.astimezone(self.timezone)
        raise HoursError(f"the line does not open within {SEARCH_DAYS} days of {local.isoformat()}")


# --- Loading ------------------------------------------------------------------------------------------------

_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _parse_interval(text: Any, where: str) -> Interval:
    match = _INTERVAL.match(text) if isinstance(text, str) else None
    if match is None:
        raise HoursError(f"{where}: {text!r} is not an interval like '08:00-18:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        start = time(h1, m1)
        end = time.max if (h2, m2) == (24, 0) else time(h2, m2)
    except ValueError as exc:
        raise HoursError(f"{where}: {text!r}: {exc}") from exc
    if start >= end:
        raise HoursError(f"{where}: {text!r}: the start must be before the end")
    return Interval(start, end)


def _parse_moment(value: Any, tz: ZoneInfo, where: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise HoursError(f"{where}: {value!r} is not a date-time like '2026-03-10 14:00'") from exc
    else:
        raise HoursError(f"{where}: {value!r} is not a date-time like '2026-03-10 14:00'")
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _parse_closure(item: Any, tz: ZoneInfo, index: int) -> Closure:
    where = f"closures[{index}]"
    if not isinstance(item, dict):
        raise HoursError(f"{where}: expected a mapping with 'date' or 'start'/'end', and 'reason'")
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise HoursError(f"{where}: a closure needs a 'reason'")
    keys = set(item) - {"reason"}
    if keys == {"date"}:
        day = item["date"]
        if isinstance(day, str):
            try:
                day = date.fromisoformat(day.strip())
            except ValueError as exc:
                raise HoursError(f"{where}: {item['date']!r} is not a date like '2026-08-14'") from exc
        if isinstance(day, datetime) or not isinstance(day, date):
            raise HoursError(f"{where}: {item['date']!r} is not a date like '2026-08-14'")
        start = datetime.combine(day, time(0), tz)
        return Closure(start, datetime.combine(day + timedelta(days=1), time(0), tz), reason.strip())
    if keys == {"start", "end"}:
        start = _parse_moment(item["start"], tz, f"{where}.start")
        end = _parse_moment(item["end"], tz, f"{where}.end")
        if start >= end:
            raise HoursError(f"{where}: start must be before end")
        return Closure(start, end, reason.strip())
    raise HoursError(f"{where}: give either 'date' or both 'start' and 'end' (got {sorted(keys)})")


def hours_from_data(data: Any, *, origin: str = "hours") -> OpeningHours:
    """Validate parsed ``hours.yaml`` data (see that file for the format)."""
    try:
        if not isinstance(data, dict):
            raise HoursError("expected a mapping")
        unknown = set(data) - {"version", "timezone", "weekly", "public_holidays", "closures"}
        if unknown:
            raise HoursError(f"unknown field(s) {sorted(unknown)}")
        if data.get("version", 1) != 1:
            raise HoursError(f"unsupported version {data.get('version')!r}")
        try:
            tz = ZoneInfo(str(data.get("timezone", "Europe/Warsaw")))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise HoursError(f"unknown timezone {data.get('timezone')!r}") from exc
        weekly_raw = data.get("weekly")
        if not isinstance(weekly_raw, dict):
            raise HoursError("'weekly' must map weekday names to lists of intervals")
        unknown_days = set(weekly_raw) - set(WEEKDAYS)
        if unknown_days:
            raise HoursError(f"weekly: unknown weekday(s) {sorted(map(str, unknown_days))}")
        weekly: dict[int, tuple[Interval, ...]] = {}
        for number, name in enumerate(WEEKDAYS):
            raw = weekly_raw.get(name) or []
            if not isinstance(raw, list):
                raise HoursError(f"weekly.{name}: expected a list of intervals like ['08:00-18:00']")
            intervals = sorted(
                (_parse_interval(text, f"weekly.{name}") for text in raw), key=lambda i: i.start
            )
            for earlier, later in itertools.pairwise(intervals):
                if later.start < earlier.end:
                    raise HoursError(f"weekly.{name}: intervals overlap")
            weekly[number] = tuple(intervals)
        country = data.get("public_holidays", "PL")
        if country is not None and not (isinstance(country, str) and country.strip()):
            raise HoursError("'public_holidays' must be a country code such as PL, or null")
        if country is not None:
            _public_holidays(country, 2000)  # fails early for an unknown country
        closures_raw = data.get("closures") or []
        if not isinstance(closures_raw, list):
            raise HoursError("'closures' must be a list")
        closures = tuple(_parse_closure(item, tz, index) for index, item in enumerate(closures_raw))
    except HoursError as exc:
        raise HoursError(f"{origin}: {exc}") from None
    return OpeningHours(
        timezone=tz, weekly=MappingProxyType(weekly), public_holidays=country, closures=closures
    )


def load_hours(path: Path | None = None) -> OpeningHours:
    """Load and validate an opening-hours file (default: the settings' ``hours_file``)."""
    path = Settings().hours_file if path is None else path
    return hours_from_data(read_data_file(path, HoursError), origin=str(path))
