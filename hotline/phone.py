"""Caller numbers: what the network sends, read as E.164 where possible; withheld numbers stay withheld."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

# What Asterisk and SIP peers put in the caller ID when the number is not presented.
WITHHELD = frozenset({"", "unknown", "anonymous", "restricted", "private", "withheld", "unavailable"})
RAW_LIMIT = 80


@dataclass(frozen=True)
class CallerNumber:
    e164: str | None
    withheld: bool
    raw: str

    @property
    def known(self) -> bool:
        return self.e164 is not None


def normalise_caller(
    raw: str | None, region: str = "PL", *, presentation_restricted: bool = False
) -> CallerNumber:
    """Read a caller ID as E.164. Never raises: unreadable input gives ``e164=None``, raw text kept."""
    text = (raw or "").strip()[:RAW_LIMIT]
    if presentation_restricted or text.lower() in WITHHELD:
        return CallerNumber(None, True, text)
    candidate = text
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return CallerNumber(None, False, text)
    if not phonenumbers.is_possible_number(number):
        return CallerNumber(None, False, text)
    return CallerNumber(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), False, text)
