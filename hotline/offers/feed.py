"""The offer feed (JSON Lines): each line checked against ``feed.schema.json``, then read into a typed record.

The schema is the one owner of the format's rules; :func:`check` applies the part of JSON Schema it uses
(``$ref``, ``type``, ``required``, ``properties``, ``additionalProperties: false``, ``enum``, ``const``,
``pattern``, lengths, bounds, ``format: date``), and :func:`parse_line` adds what a schema cannot say (the pay
range in order, the powiat inside its voivodeship, dates in order). A bad line is a :class:`BadRecord` with a
reason; it never stops the import.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parent / "feed.schema.json"
MAX_LINE_BYTES = 64 * 1024


class BadRecord(ValueError):
    """A feed line that cannot be imported; ``source_id`` is set when the line's id could still be read."""

    def __init__(self, reason: str, source_id: str | None = None, kind: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.source_id = source_id
        self.kind = kind


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "string": (str,),
    "integer": (int,),
    "array": (list,),
    "boolean": (bool,),
}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        merged = {**schema()["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
        node = merged
    return node


def check(value: Any, node: dict[str, Any], path: str = "") -> None:
    """Raise :class:`BadRecord` naming the first place where ``value`` breaks the schema ``node``."""
    node = _resolve(node)
    where = path or "record"
    if "const" in node and value != node["const"]:
        raise BadRecord(f"{where} must be {node['const']!r}")
    if "enum" in node and value not in node["enum"]:
        raise BadRecord(f"{where} must be one of {', '.join(map(str, node['enum']))}")
    kind = node.get("type")
    if kind is not None:
        wanted = _TYPES[kind]
        if not isinstance(value, wanted) or (kind == "integer" and isinstance(value, bool)):
            raise BadRecord(f"{where} must be {'an' if kind[0] in 'aeiou' else 'a'} {kind}")
    if isinstance(value, str):
        if len(value) < node.get("minLength", 0):
            raise BadRecord(f"{where} is empty" if not value else f"{where} is too short")
        if "maxLength" in node and len(value) > node["maxLength"]:
            raise BadRecord(f"{where} is longer than {node['maxLength']} characters")
        if "pattern" in node and not re.search(node["pattern"], value):
            raise BadRecord(f"{where} has the wrong form: {value[:40]!r}")
        if node.get("format") == "date":
            try:
                date.fromisoformat(value)
            except ValueError:
                raise BadRecord(f"{where} is not a date: {value[:40]!r}") from None
    if isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in node and value < node["minimum"]:
            raise BadRecord(f"{where} must be at least {node['minimum']}")
        if "maximum" in node and value > node["maximum"]:
            raise BadRecord(f"{where} must be at most {node['maximum']}")
    if isinstance(value, dict):
        for name in node.get("required", []):
            if name not in value or value[name] is None:
                raise BadRecord(f"{path + '.' if path else ''}{name} is missing")
        properties = node.get("properties", {})
        for name, item in value.items():
            if name not in properties:
                if node.get("additionalProperties", True) is False:
                    raise BadRecord(f"unknown field {path + '.' if path else ''}{name}")
                continue
            if item is None and name not in node.get("required", []):
                continue
            check(item, properties[name], f"{path}.{name}" if path else name)


@dataclass(frozen=True, slots=True)
class Place:
    voivodeship: str
    powiat: str
    town: str
    town_simc: str | None


@dataclass(frozen=True, slots=True)
class OfferRecord:
    """A job offer as the feed gives it."""

    source_id: str
    content_hash: str
    office_id: str
    office_name: str
    occupation_code: str
    occupation_name: str
    position: str | None
    employer_name: str
    employer_nip: str | None
    place: Place
    working_time: str
    shifts: str | None
    contract: str
    pay_min: int
    pay_max: int | None
    pay_unit: str
    vacancies: int
    duties: str
    requirements: str
    published: date
    valid_until: date
    how_to_apply: str


@dataclass(frozen=True, slots=True)
class TrainingRecord:
    """A training offer as the feed gives it."""

    source_id: str
    content_hash: str
    office_id: str
    office_name: str
    topic: str
    occupation_code: str | None
    occupation_name: str | None
    organiser: str
    place: Place
    starts: date
    ends: date
    hours: int
    cost: int
    eligibility: str
    description: str
    published: date
    valid_until: date
    how_to_apply: str


Record = OfferRecord | TrainingRecord


def _place(raw: dict[str, Any]) -> Place:
    if not raw["powiat"].startswith(raw["voivodeship"]):
        raise BadRecord(f"place.powiat {raw['powiat']} is not in voivodeship {raw['voivodeship']}")
    return Place(raw["voivodeship"], raw["powiat"], raw["town"].strip(), raw.get("town_simc"))


def content_hash(raw: dict[str, Any]) -> str:
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def parse_line(line: str | bytes) -> Record:
    """One feed line as a record, or :class:`BadRecord` with the reason."""
    if len(line) > MAX_LINE_BYTES:
        raise BadRecord(f"line is longer than {MAX_LINE_BYTES} bytes")
    try:
        raw = json.loads(line)
    except UnicodeDecodeError:
        raise BadRecord("line is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BadRecord(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(raw, dict):
        raise BadRecord("line is not a JSON object")
    source_id = raw.get("id") if isinstance(raw.get("id"), str) and len(raw["id"]) <= 64 else None
    kind = raw.get("type")
    try:
        if kind == "job_offer":
            return _offer(raw)
        if kind == "training":
            return _training(raw)
        raise BadRecord("type must be job_offer or training")
    except BadRecord as exc:
        raise BadRecord(exc.reason, source_id, kind if kind in ("job_offer", "training") else None) from None


def _offer(raw: dict[str, Any]) -> OfferRecord:
    check(raw, schema()["$defs"]["job_offer"])
    pay = raw["pay"]
    if pay.get("max") is not None and pay["max"] < pay["min"]:
        raise BadRecord("pay.max is below pay.min")
    published = date.fromisoformat(raw["published"])
    valid_until = date.fromisoformat(raw["valid_until"])
    if valid_until < published:
        raise BadRecord("valid_until is before published")
    return OfferRecord(
        source_id=raw["id"],
        content_hash=content_hash(raw),
        office_id=raw["office"]["id"],
        office_name=raw["office"]["name"],
        occupation_code=raw["occupation"]["code"],
        occupation_name=raw["occupation"]["name"].strip(),
        position=raw.get("position"),
        employer_name=raw["employer"]["name"].strip(),
        employer_nip=raw["employer"].get("nip"),
        place=_place(raw["place"]),
        working_time=raw["working_time"],
        shifts=raw.get("shifts"),
        contract=raw["contract"],
        pay_min=pay["min"],
        pay_max=pay.get("max"),
        pay_unit=pay["unit"],
        vacancies=raw["vacancies"],
        duties=raw.get("duties") or "",
        requirements=raw.get("requirements") or "",
        published=published,
        valid_until=valid_until,
        how_to_apply=raw["how_to_apply"],
    )


def _training(raw: dict[str, Any]) -> TrainingRecord:
    check(raw, schema()["$defs"]["training"])
    starts, ends = date.fromisoformat(raw["starts"]), date.fromisoformat(raw["ends"])
    if ends < starts:
        raise BadRecord("ends is before starts")
    published = date.fromisoformat(raw["published"])
    valid_until = date.fromisoformat(raw["valid_until"])
    if valid_until < published:
        raise BadRecord("valid_until is before published")
    occupation = raw.get("occupation") or {}
    return TrainingRecord(
        source_id=raw["id"],
        content_hash=content_hash(raw),
        office_id=raw["office"]["id"],
        office_name=raw["office"]["name"],
        topic=raw["topic"].strip(),
        occupation_code=occupation.get("code"),
        occupation_name=occupation.get("name"),
        organiser=raw["organiser"].strip(),
        place=_place(raw["place"]),
        starts=starts,
        ends=ends,
        hours=raw["hours"],
        cost=raw["cost"],
        eligibility=raw["eligibility"],
        description=raw.get("description") or "",
        published=published,
        valid_until=valid_until,
        how_to_apply=raw["how_to_apply"],
    )
