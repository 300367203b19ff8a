"""How values look to a person: local times, phone numbers, durations, codes in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from agent_console.texts import Texts
from hotline.db import Call
from hotline.phone import display_form


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
        return display_form(number, self.region)

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
