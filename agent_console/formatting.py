"""How values look to a person: local times, phone numbers, durations, codes in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import phonenumbers

from agent_console.texts import Texts
from hotline.db import Call


@dataclass(frozen=True)
class Formatter:
    texts: Texts
    timezone: ZoneInfo
    region: str = "PL"

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.timezone)

    def date_time(self, moment: datetime | None) -> str:
        if moment is None:
            return self.texts("calls.no_value")
        return self.local(moment).strftime(self.texts("units.date_time"))

    def time(self, moment: datetime | None) -> str:
        if moment is None:
            return self.texts("calls.no_value")
        return self.local(moment).strftime(self.texts("units.time"))

    def day(self, day: date) -> str:
        return day.strftime(self.texts("units.date"))

    def phone(self, number: str | None) -> str:
        """An E.164 number as people write it: national form at home, international form otherwise."""
        if not number:
            return self.texts("calls.unknown_number")
        try:
            parsed = phonenumbers.parse(number, self.region)
        except phonenumbers.NumberParseException:
            return number
        if phonenumbers.region_code_for_number(parsed) == self.region:
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

    def caller(self, call: Call) -> str:
        if call.caller_withheld:
            return self.texts("calls.withheld")
        return self.phone(call.caller_number)

    def seconds(self, total: float | None) -> str:
        if total is None:
            return self.texts("calls.no_value")
        whole = max(0, round(total))
        hours, rest = divmod(whole, 3600)
        minutes, seconds = divmod(rest, 60)
        if hours:
            return self.texts("units.hours", h=hours, m=minutes)
        if minutes:
            return self.texts("units.minutes", m=minutes, s=seconds)
        return self.texts("units.seconds", s=seconds)

    def duration(self, call: Call) -> str:
        if call.ended_at is None:
            return self.texts("calls.in_progress")
        return self.seconds((call.ended_at - call.started_at).total_seconds())

    def outcome(self, call: Call) -> str:
        if call.outcome is None:
            return self.texts("outcomes.in_progress" if call.ended_at is None else "outcomes.unknown")
        return self.texts.label("outcomes", call.outcome)

    def language(self, code: str | None) -> str:
        return self.texts.label("languages", code)

    def topic(self, code: str | None) -> str:
        return self.texts.label("topics", code)


class NotAPhoneNumber(ValueError):
    """What was typed into the search box cannot be a phone number; ``reason`` is a text key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


MAX_SEARCH_LENGTH = 40
_SEARCH_CHARACTERS = frozenset("0123456789+ -()./")


def normalise_phone_number(typed: str, region: str = "PL") -> str:
    """A typed phone number in E.164 (``+48600100200``), as the calls table stores it."""
    # Numbers pasted from documents often carry no-break or other Unicode spaces.
    text = " ".join(typed.split())
    if not text:
        raise NotAPhoneNumber("home.search_empty")
    if len(text) > MAX_SEARCH_LENGTH:
        raise NotAPhoneNumber("home.search_too_long")
    if not set(text) <= _SEARCH_CHARACTERS or not any(ch.isdigit() for ch in text):
        raise NotAPhoneNumber("home.search_garbage")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise NotAPhoneNumber("home.search_garbage") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise NotAPhoneNumber("home.search_garbage")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
