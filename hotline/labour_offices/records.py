"""The import file of the labour offices' directory, read and checked row by row (no database here).

CSV, UTF-8, one office a line, a header naming the columns (in any order); lines starting with ``#`` and
blank lines are skipped. The columns (README, "Local labour offices"):

    code             stable identifier of the office, unique in the file: letters, digits and "-", at most 16
    voivodeship      TERYT code of the voivodeship, two digits ("20")
    voivodeship_name optional; when given it must be that voivodeship's name ("podlaskie")
    powiats          the powiats served, "|"-separated, each "TERYT name":
                     "2061 m. Białystok|2002 białostocki"; the first is its own; all in its voivodeship
    name             the office's name ("Powiatowy Urząd Pracy w Augustowie")
    town             its seat ("Augustów")
    phone            its switchboard, as people write it ("87 000 00 28", "+48 87 000 00 28")
    phone_verified   "yes" when the numbers of the row were checked with the office, else "no" (the default)
    branches         optional branch offices (filie), "|"-separated, each "town" or "town: phone"

A row breaking a rule is refused with its line number and every reason; the other rows stand. A code or a
powiat that an earlier row already has refuses the later row.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from hotline.phone import parse_dialable
from hotline.teryt import VOIVODESHIPS
from hotline.text import fold

REQUIRED = ("code", "voivodeship", "powiats", "name", "town", "phone")
OPTIONAL = ("voivodeship_name", "phone_verified", "branches")
CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,15}")
MAX_NAME = 200
MAX_PLACE = 100
# Longer lines are not read at all (the csv module's own limit is a field of 131,072 characters).
MAX_LINE = 4000
# How much of a bad value a message repeats.
SHOWN = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not UTF-8, no header, a column unknown or missing)."""


@dataclass(frozen=True)
class PowiatRecord:
    teryt: str
    name: str


@dataclass(frozen=True)
class BranchRecord:
    town: str
    phone: str | None


@dataclass(frozen=True)
class OfficeRecord:
    code: str
    voivodeship: str
    name: str
    town: str
    phone: str
    phone_verified: bool
    powiats: tuple[PowiatRecord, ...]
    branches: tuple[BranchRecord, ...]

    @property
    def content_hash(self) -> str:
        canonical = json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    @property
    def search_terms(self) -> str:
        """What the search looks in, folded: code, name, seat, powiats (names and codes), branch towns."""
        parts = [self.code, self.name, self.town]
        parts += [f"{powiat.teryt} {powiat.name}" for powiat in self.powiats]
        parts += [branch.town for branch in self.branches]
        return " | ".join(fold(part) for part in parts)


@dataclass(frozen=True)
class Refusal:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ParsedFile:
    records: list[tuple[int, OfficeRecord]] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    # Every code the file names, also on refused rows: a full import leaves those offices as they are.
    codes: set[str] = field(default_factory=set)


def _shown(value: str) -> str:
    return repr(value if len(value) <= SHOWN else value[:SHOWN] + "…")


def _phone(raw: str, what: str, problems: list[str]) -> str | None:
    number = parse_dialable(raw, "PL")
    if number is None:
        problems.append(f"bad phone {_shown(raw)} for {what}")
        return None
    return number.e164


def _powiats(raw: str, voivodeship: str | None, problems: list[str]) -> tuple[PowiatRecord, ...]:
    powiats: list[PowiatRecord] = []
    for entry in (part.strip() for part in raw.split("|")):
        teryt, _, name = entry.partition(" ")
        name = name.strip()
        if not entry:
            problems.append("an empty powiat in powiats")
        elif len(teryt) != 4 or not teryt.isdigit():
            problems.append(f"powiat {_shown(entry)} does not start with a TERYT code of four digits")
        elif voivodeship is not None and teryt[:2] != voivodeship:
            problems.append(f"powiat {teryt} is not in voivodeship {voivodeship}")
        elif not name:
            problems.append(f"powiat {teryt} has no name")
        elif len(name) > MAX_PLACE:
            problems.append(f"powiat {teryt}: name longer than {MAX_PLACE} characters")
        elif any(powiat.teryt == teryt for powiat in powiats):
            problems.append(f"powiat {teryt} is listed twice")
        else:
            powiats.append(PowiatRecord(teryt, name))
    return tuple(powiats)


def _branches(raw: str, problems: list[str]) -> tuple[BranchRecord, ...]:
    if not raw:
        return ()
    branches: list[BranchRecord] = []
    for entry in (part.strip() for part in raw.split("|")):
        town, colon, phone = (part.strip() for part in entry.partition(":"))
        if not town:
            problems.append(f"a branch without a town in branches: {_shown(entry)}")
            continue
        if len(town) > MAX_PLACE:
            problems.append(f"branch town longer than {MAX_PLACE} characters")
            continue
        number = None
        if colon:
            number = _phone(phone, f"the branch in {town}", problems)
        branches.append(BranchRecord(town, number))
    return tuple(branches)


def parse_row(row: dict[str, str]) -> OfficeRecord | list[str]:
    """One row (column → text) as an office, or the list of what is wrong with it."""
    values = {key: value.strip() for key, value in row.items()}
    problems = [f"missing {column}" for column in REQUIRED if not values.get(column)]
    problems += [f"control character in {name}" for name, value in values.items() if _CONTROL.search(value)]

    code = values.get("code", "").upper()
    if code and not CODE.fullmatch(code):
        problems.append(f"code {_shown(code)} is not letters, digits and '-' (at most 16)")
    voivodeship: str | None = values.get("voivodeship", "")
    if voivodeship and voivodeship not in VOIVODESHIPS:
        problems.append(f"unknown voivodeship {_shown(voivodeship)} (a TERYT code: 02, 04, … 32)")
        voivodeship = None
    elif not voivodeship:
        voivodeship = None
    named = values.get("voivodeship_name", "")
    if voivodeship and named and fold(named) != fold(VOIVODESHIPS[voivodeship]):
        problems.append(f"voivodeship {voivodeship} is {VOIVODESHIPS[voivodeship]}, not {_shown(named)}")
    for column, limit in (("name", MAX_NAME), ("town", MAX_PLACE)):
        if len(values.get(column, "")) > limit:
            problems.append(f"{column} longer than {limit} characters")
    phone = _phone(values["phone"], "the office", problems) if values.get("phone") else None
    verified_text = values.get("phone_verified", "").lower() or "no"
    if verified_text not in ("yes", "no"):
        problems.append(f"phone_verified is {_shown(verified_text)}, not yes or no")
    powiats = _powiats(values["powiats"], voivodeship, problems) if values.get("powiats") else ()
    branches = _branches(values.get("branches", ""), problems)

    if problems or voivodeship is None or phone is None:
        return problems
    return OfficeRecord(
        code=code,
        voivodeship=voivodeship,
        name=values["name"],
        town=values["town"],
        phone=phone,
        phone_verified=verified_text == "yes",
        powiats=powiats,
        branches=branches,
    )


def _header(fields: list[str], line: int) -> list[str]:
    columns = [name.strip().lower() for name in fields]
    known = set(REQUIRED) | set(OPTIONAL)
    unknown = [name for name in columns if name not in known]
    if unknown:
        raise ImportFileError(f"line {line}: unknown column(s) {', '.join(map(repr, unknown))}")
    twice = sorted({name for name in columns if columns.count(name) > 1})
    if twice:
        raise ImportFileError(f"line {line}: column(s) named twice: {', '.join(twice)}")
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ImportFileError(f"line {line}: the header lacks column(s) {', '.join(missing)}")
    return columns


def _fields(text: str, delimiter: str) -> list[str] | None:
    """The line's fields, or None when it is not CSV (a stray carriage return). One physical line is one
    record: a quote left open just ends with the line."""
    try:
        return next(csv.reader([text], delimiter=delimiter, strict=False))
    except csv.Error:
        return None


def parse_lines(lines: Iterable[str]) -> ParsedFile:
    """Read the file's lines (numbered from 1): good rows as records, bad ones as refusals.

    Raises :class:`ImportFileError` when there is no usable header.
    """
    parsed = ParsedFile()
    columns: list[str] | None = None
    delimiter = ","
    first_line: dict[str, int] = {}
    served: dict[str, tuple[str, int]] = {}
    for number, text in enumerate(lines, start=1):
        text = text.rstrip("\r\n")
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if len(text) > MAX_LINE:
            if columns is None:
                raise ImportFileError(f"line {number}: a header longer than {MAX_LINE} characters")
            parsed.refusals.append(Refusal(number, f"longer than {MAX_LINE} characters"))
            continue
        if columns is None:
            # Spreadsheets in Polish settings write ";" between fields.
            delimiter = ";" if text.count(";") > text.count(",") else ","
            header = _fields(text, delimiter)
            if header is None:
                raise ImportFileError(f"line {number}: the header is not CSV")
            columns = _header(header, number)
            continue
        fields = _fields(text, delimiter)
        if fields is None:
            parsed.refusals.append(Refusal(number, "not CSV (a carriage return inside a field?)"))
            continue
        if len(fields) != len(columns):
            parsed.refusals.append(Refusal(number, f"{len(fields)} fields, the header has {len(columns)}"))
            continue
        row = dict(zip(columns, fields, strict=True))
        code = row.get("code", "").strip().upper()
        if code:
            parsed.codes.add(code)
        result = parse_row(row)
        if isinstance(result, list):
            parsed.refusals.append(Refusal(number, "; ".join(result)))
            continue
        if result.code in first_line:
            parsed.refusals.append(
                Refusal(number, f"code {result.code} appears twice (first on line {first_line[result.code]})")
            )
            continue
        taken = [
            f"powiat {p.teryt} is already served by {served[p.teryt][0]} (line {served[p.teryt][1]})"
            for p in result.powiats
            if p.teryt in served
        ]
        if taken:
            parsed.refusals.append(Refusal(number, "; ".join(taken)))
            continue
        first_line[result.code] = number
        served.update({p.teryt: (result.code, number) for p in result.powiats})
        parsed.records.append((number, result))
    if columns is None:
        raise ImportFileError("no header line (code,voivodeship,powiats,name,town,phone,…)")
    return parsed
