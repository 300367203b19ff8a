"""The transfers' core on the session's database (SQLite or PostgreSQL, see tests/conftest.py): targets and
their short codes, case cards written, placed and read, the consultant's call found among Asterisk's
channels, and the rendered [hotline-transfer] (what a consultant's phone can reach)."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.users import create_user
from hotline.asterisk_config import render_queue_extensions, render_transfer_extensions
from hotline.consultants import Consultants, parse_skill
from hotline.consultants.directory import ConsultantInfo
from hotline.db import Call, CallStep, CaseCard
from hotline.labour_offices import LabourOfficeDirectory, import_lines
from hotline.personal_data import Retention, erase_number, export_number, purge
from hotline.queues import Queue
from hotline.settings import Settings
from hotline.transfers import (
    EXTERNAL_EXTENSION,
    NOTE_MAX,
    CaseCards,
    Target,
    TransferError,
    TransferTargets,
    case_card,
    clean_note,
    find_call,
    transfer_codes,
)
from launcher import cli
from tests.console.helpers import add_call, unique_mobile
from tests.data import QUEUES

HEADER = "code,voivodeship,voivodeship_name,powiats,name,town,phone,phone_verified,branches"
VERIFIED = "PUP-3261,32,,3261 m. Szczecin,Powiatowy Urząd Pracy w Szczecinie,Szczecin,91 000 00 61,yes,"
PLACEHOLDER = (
    "PUP-3262,32,,3262 m. Świnoujście,Powiatowy Urząd Pracy w Świnoujściu,Świnoujście,91 000 00 62,no,"
)


@pytest.fixture
async def anna(db_sessions: async_sessionmaker[AsyncSession]) -> ConsultantInfo:
    username = f"anna-{uuid.uuid4().hex[:8]}"
    await create_user(db_sessions, username, "Anna Nowak", "password-of-anna", "consultant")
    info, _ = await Consultants(db_sessions, QUEUES).add(
        username, site="centre", skills=[parse_skill("jobs:pl")]
    )
    return info


def test_each_topic_has_a_short_code_in_the_order_of_the_queues_file() -> None:
    assert transfer_codes(QUEUES) == {
        "consultant": "70",
        "jobs": "71",
        "training": "72",
        "registration": "73",
        "abroad": "74",
        "employers": "75",
        "ecam": "76",
    }
    many = replace(QUEUES, by_name={f"t{i}": Queue(f"t{i}", "") for i in range(10)})
    with pytest.raises(TransferError):
        transfer_codes(many)


def test_a_note_is_kept_without_control_characters_and_bounded() -> None:
    assert clean_note("  Pyta o\tstaż\r\nw Łomży\x00\x1b[31m ") == "Pyta ostaż\nw Łomży[31m"
    assert len(clean_note("ż" * 5000)) == NOTE_MAX


def test_ecam_is_its_queue_or_when_configured_its_external_number() -> None:
    assert TransferTargets(QUEUES, Settings()).topic("ecam") == Target(
        "queue", "ecam", QUEUES.by_name["ecam"].description, code="76"
    )
    external = TransferTargets(QUEUES, Settings(ecam_external_number="22 123 45 67")).topic("ecam")
    assert (external.kind, external.number, external.extension) == ("external", "+48221234567", "79")
    with pytest.raises(TransferError):
        TransferTargets(QUEUES, Settings(ecam_external_number="12"))
    with pytest.raises(TransferError):
        TransferTargets(QUEUES, Settings()).topic("nowhere")


async def test_a_labour_office_is_a_target_only_with_a_verified_number(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await import_lines(db_sessions, [HEADER, VERIFIED, PLACEHOLDER], full=False)
    targets = TransferTargets(QUEUES, Settings(), LabourOfficeDirectory(db_sessions))
    office = await targets.office("pup-3261")
    assert (office.kind, office.name, office.number, office.extension) == (
        "external",
        "PUP-3261",
        "+48910000061",
        "79",
    )
    for code in ("PUP-3262", "PUP-0000", "'; DROP"):
        with pytest.raises(TransferError):
            await targets.office(code)


async def a_call(sessions: async_sessionmaker[AsyncSession], *, topic: str | None = "jobs") -> Call:
    call = Call(uniqueid=f"1700000000.{random.randrange(10**9)}", topic=topic, language="uk")
    call.steps.extend(
        [
            CallStep(node="welcome", key=None),
            CallStep(node="welcome", key="2"),
            CallStep(node="main", key="1"),
        ]
    )
    async with sessions() as db, db.begin():
        db.add(call)
    return call


TRAINING = Target("queue", "training", "training", code="72")


async def test_a_case_card_holds_the_call_the_path_the_note_and_who_sent_it_where(
    db_sessions: async_sessionmaker[AsyncSession], anna: ConsultantInfo
) -> None:
    call = await a_call(db_sessions)
    cards = CaseCards(db_sessions)
    card = await cards.create(
        call.uniqueid, TRAINING, mode="blind", source="console", consultant=anna, note="Pyta o staż"
    )
    assert (card.call_id, card.topic, card.language, card.note) == (call.id, "jobs", "uk", "Pyta o staż")
    assert [(s.node, s.key) for s in card.ivr_path] == [("welcome", None), ("welcome", "2"), ("main", "1")]
    assert (card.consultant_name, card.mode, card.source, card.target, card.placed) == (
        "Anna Nowak",
        "blind",
        "console",
        "training",
        False,
    )
    assert await cards.get(card.id) == card
    # A second transfer of the same call: the first consultant's note goes on; the latest card first.
    again = await cards.create(
        call.uniqueid,
        Target("queue", "ecam", "ecam", code="76"),
        mode="attended",
        source="phone",
        consultant=None,
    )
    assert again.note == "Pyta o staż" and again.consultant_name == ""
    assert [c.id for c in await cards.of_call(call.id)] == [again.id, card.id]
    assert await case_card(cards, call.id) == again
    assert [c.id for c in await cards.of_channel(call.uniqueid)] == [again.id, card.id]


async def test_a_card_for_a_call_not_yet_recorded_takes_the_channels_topic_and_is_found_later(
    db_sessions: async_sessionmaker[AsyncSession], anna: ConsultantInfo
) -> None:
    cards = CaseCards(db_sessions)
    uniqueid = f"1700000001.{random.randrange(10**9)}"
    card = await cards.create(
        uniqueid, TRAINING, mode="blind", source="phone", consultant=anna, topic="jobs", language="pl"
    )
    assert (card.call_id, card.topic, card.language, card.ivr_path) == (None, "jobs", "pl", ())
    call = Call(uniqueid=uniqueid)
    async with db_sessions() as db, db.begin():
        db.add(call)
    assert await case_card(cards, call.id) == card


async def test_a_consoles_card_is_placed_once_and_only_by_its_own_caller_and_target(
    db_sessions: async_sessionmaker[AsyncSession], anna: ConsultantInfo
) -> None:
    call = await a_call(db_sessions)
    cards = CaseCards(db_sessions)
    card = await cards.create(call.uniqueid, TRAINING, mode="blind", source="console", consultant=anna)
    assert await cards.place(card.id, "someone.else", "training") is None
    assert await cards.place(card.id, call.uniqueid, "jobs") is None
    assert await cards.place(card.id + 1000, call.uniqueid, "training") is None
    placed = await cards.place(card.id, call.uniqueid, "training")
    assert placed is not None and placed.placed
    assert await cards.place(card.id, call.uniqueid, "training") is None
    office = Target("external", "PUP-3261", "PUP", "+48910000061")
    external = await cards.create(call.uniqueid, office, mode="attended", source="console", consultant=anna)
    assert await cards.place(external.id, call.uniqueid, "PUP-3261") is None
    placed = await cards.place(external.id, call.uniqueid, EXTERNAL_EXTENSION)
    assert placed is not None and placed.target_number == "+48910000061"


async def test_bad_input_is_refused_and_an_unreadable_path_reads_as_none(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    cards = CaseCards(db_sessions)
    for uniqueid, mode, source in (("", "blind", "phone"), ("a b", "blind", "phone"), ("1.2", "x", "phone")):
        with pytest.raises(TransferError):
            await cards.create(uniqueid, TRAINING, mode=mode, source=source, consultant=None)
    card = await cards.create("1.3", TRAINING, mode="blind", source="phone", consultant=None)
    async with db_sessions() as db, db.begin():
        row = await db.get(CaseCard, card.id)
        assert row is not None
        row.ivr_path = "{not json"
    assert (await cards.get(card.id)).ivr_path == ()  # type: ignore[union-attr]


def test_the_consultants_call_is_the_caller_bridged_with_their_phone_not_a_consultation() -> None:
    channels = [
        {"Channel": "PJSIP/c1001-00000004", "Uniqueid": "1.4", "BridgeID": "b1"},
        {"Channel": "PJSIP/loopback-00000002", "Uniqueid": "1.2", "BridgeID": "b1"},
        {"Channel": "PJSIP/c1002-00000007", "Uniqueid": "1.7", "BridgeID": "b2"},
        {"Channel": "Local/72@hotline-transfer-00000001;2", "Uniqueid": "1.6", "BridgeID": "b2"},
        {"Channel": "PJSIP/c1003-00000009", "Uniqueid": "1.9", "BridgeID": ""},
    ]
    found = find_call(channels, "c1001")
    assert found is not None
    assert (found.consultant_channel, found.caller_channel, found.caller_uniqueid) == (
        "PJSIP/c1001-00000004",
        "PJSIP/loopback-00000002",
        "1.2",
    )
    assert find_call(channels, "c1002") is None  # only a consultation's local channel
    assert find_call(channels, "c1003") is None  # not in a bridge
    assert find_call(channels, "c1004") is None


def test_the_transfer_context_has_a_code_per_topic_and_dials_only_the_cards_number() -> None:
    rendered = render_transfer_extensions(QUEUES, Settings())
    lines = rendered.splitlines()
    assert lines[0] == "[hotline-transfer]"
    extensions = [line.split(",")[0].removeprefix("exten => ") for line in lines if line.startswith("exten")]
    assert extensions == ["70", "71", "72", "73", "74", "75", "76", "79"]
    assert (
        "exten => 72,1,Gosub(hotline-transfer-card,s,1(training))\n same => n,Goto(hotline-queues,training,1)"
        in rendered
    )
    assert "Dial(" not in rendered  # dialling is [hotline-transfer-external]'s, with the card's number only
    with_ecam = render_transfer_extensions(QUEUES, Settings(ecam_external_number="+48221234567"))
    assert "exten => 76,1,Gosub(hotline-transfer-card,s,1(ecam))\n" in with_ecam
    assert " same => n,Set(_HOTLINE_OUTBOUND_NUMBER=+48221234567)\n" in with_ecam
    # The queue lets the consultant (not the caller) transfer, into this context only.
    waiting = render_queue_extensions(QUEUES)
    assert "Set(__TRANSFER_CONTEXT=hotline-transfer)" in waiting
    assert "Queue(${HOTLINE_ASTERISK_QUEUE},t,,,,,hotline-record,hotline-widen)" in waiting


async def test_case_cards_are_exported_erased_with_the_callers_number_and_purged_after_retention(
    db_sessions: async_sessionmaker[AsyncSession], anna: ConsultantInfo
) -> None:
    number = unique_mobile()
    day = datetime(2018, 5, 9, 9, 0, tzinfo=UTC)  # long ago: no other test's cards are purged with these
    call = await add_call(db_sessions, day, caller_number=number, topic="jobs")
    old = CaseCards(db_sessions, now=lambda: day)
    card = await old.create(
        call.uniqueid, TRAINING, mode="blind", source="console", consultant=anna, note="Anna K."
    )
    exported = await export_number(db_sessions, number)
    assert [(c["id"], c["note"], c["consultant"]) for c in exported["case_cards"]] == [
        (card.id, "Anna K.", "Anna Nowak")
    ]
    report = await erase_number(db_sessions, number)
    assert report.case_cards == 1
    assert await old.get(card.id) is None
    # Past the calls' retention, a card goes with the rest of what identifies the caller.
    purged = await old.create("1.5", TRAINING, mode="blind", source="phone", consultant=None, note="x")
    later = CaseCards(db_sessions, now=lambda: day + timedelta(days=60))
    kept = await later.create("1.6", TRAINING, mode="blind", source="phone", consultant=None)
    retention = Retention.from_settings(Settings(call_retention_days=90))
    result = await purge(db_sessions, retention, now=day + timedelta(days=91))
    assert result.case_cards_deleted >= 1
    assert await old.get(purged.id) is None and await old.get(kept.id) is not None


@pytest.mark.parametrize("command", [["up"], ["asterisk-config", "--etc", "etc", "--sounds", "sounds"]])
def test_the_command_reports_a_bad_ecam_number_in_one_line_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_ECAM_EXTERNAL_NUMBER", "12")
    monkeypatch.chdir(tmp_path)
    assert cli.main(command) == 2
    assert (
        capsys.readouterr().err == "bad transfer settings: ecam_external_number is not a valid phone number\n"
    )
    assert not (tmp_path / "etc").exists()
