"""Consultants' opening hours: weekdays 8:00-18:00 in Warsaw, Polish public holidays, extra closures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ivr.hours import HoursError, OpeningHours, hours_from_data, load_hours
from tests.data import HOURS_FILE as DEFAULT_HOURS_FILE

WARSAW = ZoneInfo("Europe/Warsaw")
HOURS = load_hours(DEFAULT_HOURS_FILE)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=WARSAW)


def with_closures(*closures: dict[str, Any]) -> OpeningHours:
    return hours_from_data(
        {
            "timezone": "Europe/Warsaw",
            "weekly": {
                day: ["08:00-18:00"] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
            },
            "public_holidays": "PL",
            "closures": list(closures),
        }
    )


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        ("2026-06-10 10:00", True),  # Wednesday morning
        ("2026-06-10 08:00", True),  # opening minute
        ("2026-06-10 17:59:59", True),
        ("2026-06-10 07:59", False),
        ("2026-06-10 18:00", False),  # the end is exclusive
        ("2026-06-10 21:30", False),  # evening
        ("2026-06-14 11:00", False),  # Sunday
        ("2026-06-13 11:00", False),  # Saturday
        ("2026-11-11 10:00", False),  # Independence Day, a Wednesday
        ("2027-03-29 10:00", False),  # Easter Monday
        ("2027-03-30 10:00", True),  # the Tuesday after
        ("2026-12-24 10:00", False),  # Christmas Eve, a public holiday since 2025
        ("2026-06-04 10:00", False),  # Corpus Christi
    ],
)
def test_is_open(at: str, is_open: bool) -> None:
    assert HOURS.is_open(local(at)) is is_open


def test_times_in_other_zones_are_read_in_warsaw() -> None:
    # 06:30 UTC in June is 08:30 in Warsaw (CEST), 05:30 UTC is 07:30.
    assert HOURS.is_open(datetime(2026, 6, 10, 6, 30, tzinfo=UTC))
    assert not HOURS.is_open(datetime(2026, 6, 10, 5, 30, tzinfo=UTC))
    # In January Warsaw is UTC+1: 16:59 UTC is 17:59 local, 17:00 UTC is 18:00 local.
    assert HOURS.is_open(datetime(2026, 1, 14, 16, 59, tzinfo=UTC))
    assert not HOURS.is_open(datetime(2026, 1, 14, 17, 0, tzinfo=UTC))


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        HOURS.is_open(datetime(2026, 6, 10, 10, 0))


def test_closed_reason_explains_why() -> None:
    assert HOURS.closed_reason(local("2026-06-10 10:00")) is None
    assert HOURS.closed_reason(local("2026-11-11 10:00")) == "public holiday: National Independence Day"
    assert HOURS.closed_reason(local("2026-06-10 19:00")) == "outside opening hours"


def test_an_extra_closure_for_a_whole_day() -> None:
    hours = with_closures({"date": "2026-08-14", "reason": "dzień wolny za święto 15 sierpnia"})
    assert not hours.is_open(local("2026-08-14 10:00"))
    assert hours.closed_reason(local("2026-08-14 10:00")) == "closure: dzień wolny za święto 15 sierpnia"
    assert hours.is_open(local("2026-08-13 17:00"))
    assert hours.is_open(local("2026-08-17 08:00"))  # Monday
    assert hours.next_opening(local("2026-08-13 18:30")) == local("2026-08-17 08:00")


def test_an_extra_closure_for_part_of_a_day() -> None:
    hours = with_closures(
        {"start": "2026-03-10 14:00", "end": "2026-03-10 16:00", "reason": "przerwa techniczna"}
    )
    assert hours.is_open(local("2026-03-10 13:59"))
    assert not hours.is_open(local("2026-03-10 14:00"))
    assert not hours.is_open(local("2026-03-10 15:59"))
    assert hours.is_open(local("2026-03-10 16:00"))
    assert hours.next_opening(local("2026-03-10 14:30")) == local("2026-03-10 16:00")


def test_a_closure_spanning_days_as_yaml_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "hours.yaml"
    path.write_text(
        DEFAULT_HOURS_FILE.read_text(encoding="utf-8").replace(
            "closures: []",
            "closures:\n"
            "  - start: 2026-06-10 12:00:00\n"
            "    end: 2026-06-12 10:00:00\n"
            "    reason: awaria centrali\n",
        ),
        encoding="utf-8",
    )
    hours = load_hours(path)
    assert not hours.is_open(local("2026-06-11 10:00"))
    assert hours.next_opening(local("2026-06-10 12:30")) == local("2026-06-12 10:00")


def test_next_opening_is_now_when_open() -> None:
    at = local("2026-06-10 10:15")
    assert HOURS.next_opening(at) == at


@pytest.mark.parametrize(
    ("at", "opens"),
    [
        ("2026-06-10 07:00", "2026-06-10 08:00"),  # early morning
        ("2026-06-10 18:00", "2026-06-11 08:00"),  # evening
        ("2026-06-12 19:00", "2026-06-15 08:00"),  # Friday evening → Monday
        ("2026-06-14 11:00", "2026-06-15 08:00"),  # Sunday
        # Long May weekend: Fri 1 May (Labour Day), Sat, Sun 3 May (Constitution Day) → Mon 4 May.
        ("2026-04-30 18:00", "2026-05-04 08:00"),
        # Easter: Fri evening, the weekend, Easter Monday 29 March → Tuesday 30 March.
        ("2027-03-26 18:30", "2027-03-30 08:00"),
        # Christmas 2026: Thu 24 (Wigilia), Fri 25, Sat 26, Sun 27 → Mon 28 December.
        ("2026-12-23 18:00", "2026-12-28 08:00"),
        ("2026-11-10 18:00", "2026-11-12 08:00"),  # over Independence Day
    ],
)
def test_next_opening(at: str, opens: str) -> None:
    assert HOURS.next_opening(local(at)) == local(opens)


def test_next_opening_across_daylight_saving_time() -> None:
    # Clocks go forward on Sunday 29 March 2026; Monday 08:00 is 06:00 UTC, not 07:00.
    opens = HOURS.next_opening(local("2026-03-27 18:00"))
    assert opens == local("2026-03-30 08:00")
    assert opens.astimezone(UTC) == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)


def test_a_line_that_never_opens_is_an_error() -> None:
    hours = hours_from_data({"weekly": {}, "public_holidays": None})
    with pytest.raises(HoursError, match="does not open"):
        hours.next_opening(local("2026-06-10 10:00"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"weekly": {"mon": ["08:00-18:00"]}}, "unknown weekday(s) ['mon']"),
        ({"weekly": {"monday": ["8-18"]}}, "is not an interval"),
        ({"weekly": {"monday": ["18:00-08:00"]}}, "start must be before the end"),
        ({"weekly": {"monday": ["08:00-12:00", "11:00-18:00"]}}, "intervals overlap"),
        ({"weekly": {"monday": ["25:00-26:00"]}}, "hour must be in"),
        ({"weekly": {}, "timezone": "Europe/Warszawa"}, "unknown timezone"),
        ({"weekly": {}, "public_holidays": "XX"}, "no public holidays known"),
        ({"weekly": {}, "closures": [{"date": "2026-08-14"}]}, "needs a 'reason'"),
        ({"weekly": {}, "closures": [{"date": "14.08.2026", "reason": "x"}]}, "is not a date"),
        ({"weekly": {}, "closures": [{"start": "2026-08-14 10:00", "reason": "x"}]}, "either 'date' or both"),
        (
            {
                "weekly": {},
                "closures": [{"start": "2026-08-14 10:00", "end": "2026-08-14 09:00", "reason": "x"}],
            },
            "start must be before end",
        ),
        ({"weekly": {}, "hollidays": "PL"}, "unknown field(s) ['hollidays']"),
        ({}, "'weekly' must map weekday names"),
    ],
)
def test_invalid_hours_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(HoursError) as caught:
        hours_from_data(data)
    assert message in str(caught.value)


def test_the_hours_file_is_the_real_hotline_schedule() -> None:
    for day in range(5):
        assert [(i.start.isoformat("minutes"), i.end.isoformat("minutes")) for i in HOURS.weekly[day]] == [
            ("08:00", "18:00")
        ]
    assert HOURS.weekly[5] == () and HOURS.weekly[6] == ()
    assert HOURS.timezone == WARSAW and HOURS.public_holidays == "PL"
