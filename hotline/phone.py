"""Phone numbers: the one place where a number is read, whatever it comes from.

- a caller ID from the network (:func:`normalise_caller`): E.164 where it is a possible number; withheld
  numbers stay withheld; never raises;
- a number a caller keys in or confirms for a call-back (:func:`parse_dialable`): only valid numbers, with
  the form read back to the caller;
- a number a consultant types into a search box (:func:`parse_typed`): E.164, or :class:`NotAPhoneNumber`
  with the reason;
- a number written to a log (:func:`mask`): the country code and the last three digits only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import phonenumbers

# What Asterisk and SIP peers put in the caller ID when the number is not presented.
WITHHELD = frozenset({"", "unknown", "anonymous", "restricted", "private", "withheld", "unavailable"})
RAW_LIMIT = 80
# Longest run of digits a real number has (E.164: 15, with a 00 prefix 17).
MAX_DIGITS = 17
MAX_TYPED_LENGTH = 40
_TYPED_CHARACTERS = frozenset("0123456789+ -()./")


def is_withheld(raw: str | None) -> bool:
    return (raw or "").strip().lower() in WITHHELD


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- Caller IDs ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallerNumber:
    e164: str | None
    withheld: bool
    raw: str

    @property
    def known(self) -> bool:
        return self.e164 is not None

    @property
    def presented(self) -> str | None:
        """The number as it may be shown (live state, consultants): None when the caller withheld it."""
        return None if self.withheld else self.e164


def is_presentation_restricted(presentation: str | None) -> bool:
    """Whether Asterisk's presentation of a caller ID (``CALLERID(pres)``: ``prohib_not_screened``,
    ``allowed_not_screened`` …) says the caller withheld their number (SIP ``Privacy: id``)."""
    return (presentation or "").strip().lower().startswith("prohib")


def normalise_caller(
    raw: str | None,
    region: str = "PL",
    *,
    presentation_restricted: bool = False,
    keep_restricted: bool = False,
) -> CallerNumber:
    """Read a caller ID as E.164. Never raises: unreadable input gives ``e164=None``, raw text kept.

    A number the caller withheld (``presentation_restricted``) is ``withheld``; it is read and kept only with
    ``keep_restricted`` (the call's record may hold it; nobody is shown it), else nothing of it is kept.
    """
    text = (raw or "").strip()[:RAW_LIMIT]
    if is_withheld(text):
        return CallerNumber(None, True, text)
    if presentation_restricted and not keep_restricted:
        return CallerNumber(None, True, "")
    candidate = text
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return CallerNumber(None, presentation_restricted, text)
    if not phonenumbers.is_possible_number(number):
        return CallerNumber(None, presentation_restricted, text)
    return CallerNumber(_e164(number), presentation_restricted, text)


# --- Numbers to call back -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DialableNumber:
    e164: str  # as stored for the call-back: "+48600123456"
    spoken: str  # as read back to the caller: "600123456" (home region) or "0038067…"


def parse_dialable(raw: str, region: str = "PL") -> DialableNumber | None:
    """A caller ID or a number typed on the keypad as a valid phone number, or None.

    Typed numbers abroad start with ``00``; numbers without a country code are numbers of ``region``.
    """
    text = raw.strip()
    if is_withheld(text):
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits or len(digits) > MAX_DIGITS or any(not (ch.isdigit() or ch in "+-() ") for ch in text):
        return None
    if text.startswith("+"):
        candidate = "+" + digits
    elif digits.startswith("00"):
        candidate = "+" + digits[2:]
    else:
        candidate = digits
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    national = phonenumbers.national_significant_number(number)
    home = phonenumbers.region_code_for_number(number) == region
    return DialableNumber(
        e164=_e164(number), spoken=national if home else f"00{number.country_code}{national}"
    )


# --- Numbers typed by a consultant --------------------------------------------------------------------------

NotANumberReason = Literal["empty", "too_long", "garbage"]


class NotAPhoneNumber(ValueError):
    """What was typed cannot be a phone number; ``reason`` says why."""

    def __init__(self, reason: NotANumberReason) -> None:
        super().__init__(reason)
        self.reason: NotANumberReason = reason


def parse_typed(typed: str, region: str = "PL") -> str:
    """A typed phone number in E.164 (``+48600100200``), as the calls table stores it."""
    # Numbers pasted from documents often carry no-break or other Unicode spaces.
    text = " ".join(typed.split())
    if not text:
        raise NotAPhoneNumber("empty")
    if len(text) > MAX_TYPED_LENGTH:
        raise NotAPhoneNumber("too_long")
    if not set(text) <= _TYPED_CHARACTERS or not any(ch.isdigit() for ch in text):
        raise NotAPhoneNumber("garbage")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise NotAPhoneNumber("garbage") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise NotAPhoneNumber("garbage")
    return _e164(parsed)


def display_form(e164: str, region: str = "PL") -> str:
    """An E.164 number as people write it: national form at home, international form otherwise."""
    try:
        parsed = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(parsed) == region:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# --- Numbers in logs ----------------------------------------------------------------------------------------

VISIBLE_DIGITS = 3


def mask(number: str | None) -> str:
    """A number as a log line may show it: the country code of an E.164 number and the last three digits,
    every other digit a star (``+48600100200`` → ``+48******200``); anything else keeps its last three digits
    only. Withheld or empty caller IDs are shown as such, never the text around them."""
    text = (number or "").strip()
    if is_withheld(text):
        return "withheld" if text else "-"
    digits = "".join(ch for ch in text if ch.isdigit())
    prefix = ""
    if text.startswith("+"):
        try:
            country = str(phonenumbers.parse("+" + digits).country_code)
        except phonenumbers.NumberParseException:
            country = ""
        if country and len(digits) - len(country) > VISIBLE_DIGITS:
            prefix, digits = "+" + country, digits[len(country) :]
    hidden = max(0, len(digits) - VISIBLE_DIGITS)
    if hidden == 0:
        return prefix + "*" * len(digits) if digits else "***"
    return prefix + "*" * hidden + digits[hidden:]
