"""Transfers with a case card: a consultant passes a caller on, blind or attended, to another topic's queue,
to ECAM/OHP (its queue, or an external number when ``ecam_external_number`` is set) or to a local labour
office (its verified number, from :class:`hotline.labour_offices.LabourOfficeDirectory`), and what the next
consultant should know goes with the call.

Two ways in, one dialplan (``[hotline-transfer]``, rendered by :mod:`hotline.asterisk_config`):

- **the phone**: the in-call features of ``features.conf`` (blind ``#1``, attended ``*2``), then a fixed
  short code per topic (:func:`transfer_codes`: 70, 71, … in the order of ``hotline/queues.yaml``). The
  consultant's channel carries ``TRANSFER_CONTEXT=hotline-transfer`` (inherited from the caller's channel
  when the queue rings them), so nothing else can be dialled: no number, no other context.
- **the console / AMI** (:class:`Transfers`): the consultant's current call is found from Asterisk
  (AMI ``Status``); a case card is written first, with the consultant's note; then ``Redirect`` of
  the caller (blind) or ``Atxfer`` on the consultant's channel (attended) to the same extensions. An
  external target is reached through the extension ``79``, which dials only the number the card holds
  (written here from the settings or the directory).

Either way the extension runs the FastAGI route ``transfer`` first (``ivr/routes/transfer.py``): it writes
the card of a phone transfer (or marks the console's card as placed) and sets ``HOTLINE_CASE_CARD`` (the
card's id, inherited by the receiving consultant's channel) on the caller's channel. If the Python side
is down, the dialplan still takes the caller to the queue.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.ami import AmiClient, AmiError
from hotline.ami.actions import Atxfer, Getvar, Redirect, Setvar, Status
from hotline.callbacks import placeholder_attempt, placeholder_call
from hotline.clock import Clock, utc_now
from hotline.consultants.directory import ConsultantInfo
from hotline.db import Call, CallStep, CaseCard, Consultant
from hotline.labour_offices import LabourOfficeDirectory
from hotline.phone import parse_dialable
from hotline.queues import Queues
from hotline.settings import Settings

log = logging.getLogger(__name__)

# The dialplan context of the transfer targets, and the first of the topics' short codes.
TRANSFER_CONTEXT = "hotline-transfer"
FIRST_CODE = 70
MAX_CODES = 9
# The extension of [hotline-transfer] that dials an external number (the one the console's case card holds):
# digits, since AMI Atxfer keys the extension in as DTMF, like a consultant's phone. Keyed in on a phone
# without such a card, it dials nothing (the caller goes to the default queue).
EXTERNAL_EXTENSION = str(FIRST_CODE + MAX_CODES)
ECAM = "ecam"
# Channel variables (their contract with the dialplan and the receiving side).
CASE_CARD_VARIABLE = "HOTLINE_CASE_CARD"
NEW_CARD_VARIABLE = "HOTLINE_CASE_CARD_NEW"
CALLER_VARIABLE = "HOTLINE_CALLER_UNIQUEID"
# The caller's topic and language as the queue took them (the call's record has them only at its end).
CALLER_TOPIC_VARIABLE = "HOTLINE_CALLER_TOPIC"
CALLER_LANGUAGE_VARIABLE = "HOTLINE_CALLER_LANGUAGE"
# The phone features (features.conf), as the README and the console tell consultants.
BLIND_FEATURE = "#1"
ATTENDED_FEATURE = "*2"

MODES = ("blind", "attended")
SOURCES = ("phone", "console")
NOTE_MAX = 1000
PATH_MAX_STEPS = 100
CONSULTANT_CHANNEL = re.compile(r"^PJSIP/(c[0-9]{4,9})-[0-9a-f]{8}$")
UNIQUEID = re.compile(r"^[0-9A-Za-z._-]{1,64}$")


class TransferError(Exception):
    """A transfer cannot be made as asked (the message says why, for the console and the log)."""


def transfer_codes(queues: Queues) -> dict[str, str]:
    """Topic → its short transfer code: 70, 71, … (at most 78) in the order of the queues file."""
    names = [queue.name for queue in queues]
    if len(names) > MAX_CODES:
        raise TransferError(
            f"{len(names)} topics: transfer codes {FIRST_CODE}–{FIRST_CODE + MAX_CODES - 1} hold {MAX_CODES}"
        )
    return {name: str(FIRST_CODE + index) for index, name in enumerate(names)}


def clean_note(text: str) -> str:
    """A consultant's note as stored: no control characters (line breaks kept), at most ``NOTE_MAX``."""
    kept = "".join(
        ch for ch in text.replace("\r\n", "\n") if ch == "\n" or unicodedata.category(ch)[0] != "C"
    )
    return kept.strip()[:NOTE_MAX]


@dataclass(frozen=True)
class Target:
    """Where a call goes: a topic's queue, or an external number (ECAM's, a labour office's)."""

    kind: str  # queue | external
    name: str  # the topic, "ecam" or a labour office's code
    label: str
    number: str | None = None
    # The short code of [hotline-transfer] that reaches a topic's queue (70, 71, …)
    code: str | None = None

    @property
    def extension(self) -> str:
        """The extension of ``[hotline-transfer]`` that takes the call there."""
        return self.code if self.kind == "queue" and self.code else EXTERNAL_EXTENSION


def ecam_external_number(settings: Settings) -> str | None:
    """ECAM's external number in E.164 when configured; a setting that is no valid number is refused."""
    raw = settings.ecam_external_number.strip()
    if not raw:
        return None
    number = parse_dialable(raw, settings.default_region)
    if number is None:
        raise TransferError("ecam_external_number is not a valid phone number")
    return number.e164


class TransferTargets:
    """The targets a consultant may choose: every topic's queue, ECAM, and the directory's offices."""

    def __init__(
        self, queues: Queues, settings: Settings, directory: LabourOfficeDirectory | None = None
    ) -> None:
        self.queues = queues
        self.codes = transfer_codes(queues)
        self.ecam_number = ecam_external_number(settings)
        self.directory = directory

    def topics(self) -> list[Target]:
        """Every topic's queue (ECAM's as it is configured)."""
        return [self.topic(queue.name) for queue in self.queues]

    def topic(self, name: str) -> Target:
        queue = self.queues.by_name.get(name)
        if queue is None:
            raise TransferError(f"no topic {name[:32]!r}")
        if name == ECAM and self.ecam_number is not None:
            return Target("external", ECAM, queue.description, self.ecam_number)
        return Target("queue", name, queue.description, code=self.codes[name])

    async def office(self, code: str) -> Target:
        """A labour office of the directory, by its code: only one whose number was verified."""
        if self.directory is None:
            raise TransferError("no directory of labour offices")
        office = await self.directory.office(code[:16])
        if office is None:
            raise TransferError(f"no labour office {code[:16]!r}")
        if office.transfer_number is None:
            raise TransferError(f"{office.code}: no verified number to transfer to")
        return Target("external", office.code, office.name, office.transfer_number)


# --- Case cards ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    node: str
    key: str | None


@dataclass(frozen=True)
class CaseCardView:
    """A case card as the receiving side reads it."""

    id: int
    caller_uniqueid: str
    call_id: int | None
    created_at: datetime
    topic: str | None
    language: str | None
    ivr_path: tuple[Step, ...]
    note: str
    consultant_name: str
    target_kind: str
    target: str
    target_number: str | None
    mode: str
    source: str
    placed: bool

    @classmethod
    def of(cls, row: CaseCard) -> CaseCardView:
        return cls(
            id=row.id,
            caller_uniqueid=row.caller_uniqueid,
            call_id=row.call_id,
            created_at=row.created_at,
            topic=row.topic,
            language=row.language,
            ivr_path=_path(row.ivr_path),
            note=row.note,
            consultant_name=row.consultant_name,
            target_kind=row.target_kind,
            target=row.target,
            target_number=row.target_number,
            mode=row.mode,
            source=row.source,
            placed=row.placed,
        )


def _path(stored: str) -> tuple[Step, ...]:
    """The stored path; anything unreadable is an empty path (logged), never an error on the page."""
    try:
        data = json.loads(stored)
        return tuple(Step(str(node), None if key is None else str(key)) for node, key in data)
    except (ValueError, TypeError):
        log.warning("a case card's IVR path is unreadable: %r", stored[:80])
        return ()


def _first(*values: str | None) -> str | None:
    """The first value given, bounded as the columns are; None when there is none."""
    for value in values:
        if value:
            return value[:32]
    return None


class CaseCards:
    """The case cards in the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Clock = utc_now) -> None:
        self.sessions = sessions
        self.now = now

    async def create(
        self,
        caller_uniqueid: str,
        target: Target,
        *,
        mode: str,
        source: str,
        consultant: ConsultantInfo | None,
        note: str = "",
        placed: bool = False,
        topic: str | None = None,
        language: str | None = None,
    ) -> CaseCardView:
        """A card for a transfer of the caller's channel ``caller_uniqueid``: the IVR path from the call's
        record; topic and language from the record, else as given (the channel's), else the previous
        card's; the note given, else the one of the call's previous card."""
        if mode not in MODES or source not in SOURCES:
            raise TransferError(f"transfer mode {mode!r} / source {source!r} unknown")
        if not UNIQUEID.fullmatch(caller_uniqueid):
            raise TransferError("no caller's channel to transfer")
        note = clean_note(note)
        async with self.sessions() as session, session.begin():
            call = await session.scalar(select(Call).where(Call.uniqueid == caller_uniqueid))
            if call is None:  # a call-back: the call in which the caller asked for it
                call = await placeholder_call(session, caller_uniqueid)
            steps: Sequence[CallStep] = ()
            if call is not None:
                steps = (
                    await session.scalars(
                        select(CallStep)
                        .where(CallStep.call_id == call.id)
                        .order_by(CallStep.id)
                        .limit(PATH_MAX_STEPS)
                    )
                ).all()
            previous = await session.scalar(
                select(CaseCard)
                .where(CaseCard.caller_uniqueid == caller_uniqueid)
                .order_by(CaseCard.id.desc())
                .limit(1)
            )
            if not note and previous is not None:
                note = previous.note
            row = CaseCard(
                caller_uniqueid=caller_uniqueid,
                call_id=call.id if call is not None else None,
                created_at=self.now(),
                topic=_first(call.topic if call else None, topic, previous.topic if previous else None),
                language=_first(
                    call.language if call else None, language, previous.language if previous else None
                ),
                ivr_path=json.dumps([[s.node, s.key] for s in steps], ensure_ascii=False),
                note=note,
                consultant_id=consultant.id if consultant is not None else None,
                consultant_name=consultant.display_name[:128] if consultant is not None else "",
                target_kind=target.kind,
                target=target.name[:32],
                target_number=target.number,
                mode=mode,
                source=source,
                placed=placed,
            )
            session.add(row)
            await session.flush()
            view = CaseCardView.of(row)
        log.info(
            "case card %d: %s transfer (%s) of %s to %s %s by %s",
            view.id,
            mode,
            source,
            caller_uniqueid,
            target.kind,
            target.name,
            view.consultant_name or "-",
        )
        return view

    async def place(self, card_id: int, caller_uniqueid: str, target: str) -> CaseCardView | None:
        """Mark the console's card ``card_id`` as placed, when it is this caller's, names ``target`` (a
        topic, or ``external``) and was not placed before; None otherwise (a stale or foreign id)."""
        async with self.sessions() as session, session.begin():
            row = await session.get(CaseCard, card_id)
            if (
                row is None
                or row.placed
                or row.caller_uniqueid != caller_uniqueid
                or (EXTERNAL_EXTENSION if row.target_kind == "external" else row.target) != target
            ):
                return None
            row.placed = True
            return CaseCardView.of(row)

    async def get(self, card_id: int) -> CaseCardView | None:
        async with self.sessions() as session:
            row = await session.get(CaseCard, card_id)
            return CaseCardView.of(row) if row is not None else None

    async def of_call(self, call_id: int) -> list[CaseCardView]:
        """Every card of a call (its caller's channel), the latest first."""
        async with self.sessions() as session:
            uniqueid = await session.scalar(select(Call.uniqueid).where(Call.id == call_id))
            clauses = [CaseCard.call_id == call_id]
            if uniqueid is not None:
                clauses.append(CaseCard.caller_uniqueid == uniqueid)
            rows = await session.scalars(select(CaseCard).where(or_(*clauses)).order_by(CaseCard.id.desc()))
            return [CaseCardView.of(row) for row in rows]

    async def of_channel(self, caller_uniqueid: str) -> list[CaseCardView]:
        """Every card of the caller's channel, the latest first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(CaseCard)
                .where(CaseCard.caller_uniqueid == caller_uniqueid)
                .order_by(CaseCard.id.desc())
            )
            return [CaseCardView.of(row) for row in rows]


async def case_card(cards: CaseCards, call_id: int) -> CaseCardView | None:
    """The case card of a call: the latest of its transfers, or None if it was never transferred."""
    found = await cards.of_call(call_id)
    return found[0] if found else None


async def consultant_of_channel(
    sessions: async_sessionmaker[AsyncSession], channel: str
) -> ConsultantInfo | None:
    """The consultant whose phone's channel this is (``PJSIP/c1001-0000000a``), if any."""
    match = CONSULTANT_CHANNEL.fullmatch(channel)
    if match is None:
        return None
    async with sessions() as session:
        row = await session.scalar(select(Consultant).where(Consultant.sip_username == match.group(1)))
        return ConsultantInfo.of(row) if row is not None else None


# --- Over AMI (the console) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsultantCall:
    """A consultant's current call: their phone's channel and the caller's, bridged together."""

    consultant_channel: str
    caller_channel: str
    caller_uniqueid: str


def find_call(channels: Iterable[Mapping[str, str]], sip_username: str) -> ConsultantCall | None:
    """From ``Status`` events: the channel of the consultant's phone that is bridged with a caller
    (not with a local channel of a consultation; a call-back's caller is the placeholder's queue half), and
    that caller's channel."""
    channels = list(channels)
    by_bridge: dict[str, list[Mapping[str, str]]] = {}
    for channel in channels:
        bridge = channel.get("BridgeID", "")
        if bridge:
            by_bridge.setdefault(bridge, []).append(channel)
    for channel in channels:
        match = CONSULTANT_CHANNEL.fullmatch(channel.get("Channel", ""))
        if match is None or match.group(1) != sip_username or not channel.get("BridgeID"):
            continue
        for peer in by_bridge[channel["BridgeID"]]:
            name = peer.get("Channel", "")
            called_back = placeholder_attempt(peer.get("Uniqueid", "")) is not None
            if (
                peer is channel
                or (name.startswith("Local/") and not called_back)
                or CONSULTANT_CHANNEL.fullmatch(name)
            ):
                continue
            return ConsultantCall(channel["Channel"], name, peer.get("Uniqueid", ""))
    return None


class Transfers:
    """Transfers asked from the console: find the consultant's call, write the card, then move the call."""

    def __init__(self, ami: AmiClient | None, cards: CaseCards, targets: TransferTargets) -> None:
        self.ami = ami
        self.cards = cards
        self.targets = targets

    def _connected(self) -> AmiClient:
        if self.ami is None or not self.ami.connected:
            raise TransferError("Asterisk is not reachable (AMI)")
        return self.ami

    async def _variable(self, channel: str, name: str) -> str | None:
        try:
            value = (await self._connected().send(Getvar(channel=channel, variable=name))).fields.get("Value")
        except AmiError:
            return None
        return value if value and re.fullmatch(r"[a-z_]{1,32}", value) else None

    async def current_call(self, consultant: ConsultantInfo) -> ConsultantCall | None:
        ami = self._connected()
        try:
            response = await ami.send(Status(), timeout=15)
        except AmiError as exc:
            raise TransferError(f"Asterisk's channels could not be read: {exc}") from exc
        events = [e for e in response.events if e.get("Event") == "Status"]
        return find_call(events, consultant.sip_username)

    async def transfer(
        self, consultant: ConsultantInfo, target: Target, *, mode: str, note: str = ""
    ) -> CaseCardView:
        """Transfer the consultant's current call to ``target``; returns the case card written."""
        if mode not in MODES:
            raise TransferError(f"transfer mode {mode!r} unknown")
        call = await self.current_call(consultant)
        if call is None:
            raise TransferError(f"{consultant.username} has no call to transfer")
        card = await self.cards.create(
            call.caller_uniqueid,
            target,
            mode=mode,
            source="console",
            consultant=consultant,
            note=note,
            topic=await self._variable(call.caller_channel, CALLER_TOPIC_VARIABLE),
            language=await self._variable(call.caller_channel, CALLER_LANGUAGE_VARIABLE),
        )
        ami = self._connected()
        try:
            if mode == "blind":
                await ami.send(
                    Setvar(channel=call.caller_channel, variable=NEW_CARD_VARIABLE, value=str(card.id))
                )
                await ami.send(
                    Redirect(channel=call.caller_channel, context=TRANSFER_CONTEXT, exten=target.extension)
                )
            else:
                # Inherited by the consultation's local channel, which runs the target's extension.
                await ami.send(
                    Setvar(
                        channel=call.consultant_channel, variable=f"_{NEW_CARD_VARIABLE}", value=str(card.id)
                    )
                )
                await ami.send(
                    Atxfer(channel=call.consultant_channel, context=TRANSFER_CONTEXT, exten=target.extension)
                )
        except AmiError as exc:
            raise TransferError(f"the transfer was refused by Asterisk: {exc}") from exc
        # The caller's channel carries the card's id, whichever way the call goes on.
        try:
            await ami.send(
                Setvar(channel=call.caller_channel, variable=f"__{CASE_CARD_VARIABLE}", value=str(card.id))
            )
        except AmiError as exc:
            log.warning("case card %d: not set on the caller's channel (%s)", card.id, exc)
        return card
