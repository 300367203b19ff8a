"""Transfers with a case card, end to end: real SIP phones (baresip) as consultants, a real caller, the
real Asterisk. A caller of job offers is answered by the first consultant, who transfers them blind or
attended (from the console's core over AMI, or with the phone's in-call feature) to another topic's queue
or to ECAM's; the receiving consultant's phone gets the caller, and the case card is stored and readable.

    first     jobs in Polish       training  training in Polish       ecam  ECAM (young people) in Polish
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from agent_console.app import create_app
from agent_console.users import set_password
from devtools.carrier import Carrier
from devtools.testcall import TestCallResult, place_test_call
from hotline.ami import AmiEvent, actions
from hotline.db import Call
from hotline.labour_offices import import_lines
from hotline.transfers import (
    ATTENDED_FEATURE,
    BLIND_FEATURE,
    CASE_CARD_VARIABLE,
    CaseCardView,
    TransferTargets,
    case_card,
)
from launcher.runner import Hotline
from tests.console.conftest import CSRF, PASSWORD, Account, Client, signed_in
from tests.e2e.conftest import (
    CALLER_ID,
    Desk,
    ami_events,
    consultant_desks,
    eventually,
    hang_up,
    next_connect,
    queues_file,
    received_by_carrier,
    trunked_hotline,
)

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/baresip").exists(), reason="baresip (Debian baresip-core) is not installed"
)

CONSULTANTS = {"first": ["jobs:pl:3"], "training": ["training:pl:3"], "ecam": ["ecam:pl:3"]}
PL_JOBS = ["1", "1", "0"]  # Polish, job offers, a consultant
NOTE = "Pyta o kurs spawacza; zarejestrowana w PUP Białystok."
ECAM_NUMBER = "+48226543210"
OFFICES_HEADER = "code,voivodeship,voivodeship_name,powiats,name,town,phone,phone_verified,branches"
OFFICE = "PUP-2062,20,,2062 m. Łomża,Powiatowy Urząd Pracy w Łomży,Łomża,86 000 00 62,yes,"
OFFICE_NUMBER = "+48860000062"


@pytest.fixture(scope="module")
async def desks(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Hotline, dict[str, Desk], Carrier]]:
    folder = tmp_path_factory.mktemp("transfers")
    # Only the topic's own consultants are offered a caller within the tests' time: no widening.
    routing = [{"after": 0, "reach": "topic"}, {"after": 3000, "reach": "anyone"}]
    queues = queues_file(folder, routing=routing, ring_seconds=10, wrapup_seconds=0)
    # The carrier at the other end of the trunk, where external targets (ECAM, a labour office) ring.
    async with (
        trunked_hotline(database_url, folder, "transfers", queues_file=queues) as (hotline, carrier),
        transfer_desks(hotline, folder, prefix="xfer_") as desks,
    ):
        yield hotline, desks, carrier


@contextlib.asynccontextmanager
async def transfer_desks(hotline: Hotline, folder: Path, *, prefix: str) -> AsyncIterator[dict[str, Desk]]:
    """The consultants with their phones, registered and logged in to their queues; the local office. The
    session's database is shared: the console users' names carry the module's ``prefix``."""
    async with consultant_desks(
        hotline,
        folder,
        CONSULTANTS,
        prefix=prefix,
        display_name="Konsultant {name}",
        sites={"ecam": "ecam"},
        logged_in=True,
    ) as desks:
        assert hotline.consultants is not None
        await import_lines(hotline.consultants.sessions, [OFFICES_HEADER, OFFICE], full=False)
        yield desks


@pytest.fixture
def hotline(desks: tuple[Hotline, dict[str, Desk], Carrier]) -> Hotline:
    return desks[0]


@pytest.fixture
def desk(desks: tuple[Hotline, dict[str, Desk], Carrier]) -> dict[str, Desk]:
    return desks[1]


@pytest.fixture
def carrier(desks: tuple[Hotline, dict[str, Desk], Carrier]) -> Carrier:
    return desks[2]


async def answered_call(hotline: Hotline, seen: asyncio.Queue[AmiEvent], first: Desk) -> TestCallResult:
    assert hotline.ami is not None
    call = await place_test_call(hotline.ami, "19524", PL_JOBS, until="queue", hang_up=False, timeout=60)
    assert call.asterisk_queue == "jobs-pl", call.describe()
    await next_connect(seen, first, uniqueid=call.uniqueid)
    return call


async def channels(hotline: Hotline) -> list[dict[str, str]]:
    assert hotline.ami is not None
    response = await hotline.ami.send(actions.Status(), timeout=15)
    return [dict(e) for e in response.events if e.get("Event") == "Status"]


async def bridged_with(hotline: Hotline, uniqueid: str, desk: Desk) -> bool:
    """Whether the caller's channel talks with ``desk``'s phone: in one bridge, or through the two halves
    of a local channel (an attended transfer's consultation that Asterisk did not optimise away)."""
    found = await channels(hotline)
    bridge_of = {c.get("Channel", ""): c.get("BridgeID", "") for c in found}
    bridge = next((c.get("BridgeID", "") for c in found if c.get("Uniqueid") == uniqueid), "")
    bridges = {bridge} if bridge else set()
    for name, other in bridge_of.items():
        if other in bridges and name.startswith("Local/") and name[-2:] in (";1", ";2"):
            half = name[:-1] + ("2" if name.endswith("1") else "1")
            if bridge_of.get(half):
                bridges.add(bridge_of[half])
    return any(bridge_of[name] in bridges for name in bridge_of if name.startswith(f"{desk.info.interface}-"))


async def channel_variable(hotline: Hotline, channel: str, name: str) -> str:
    assert hotline.ami is not None
    response = await hotline.ami.send(actions.Getvar(channel=channel, variable=name))
    return response.fields.get("Value", "")


async def call_id(hotline: Hotline, uniqueid: str) -> int | None:
    assert hotline.consultants is not None
    async with hotline.consultants.sessions() as session:
        return await session.scalar(select(Call.id).where(Call.uniqueid == uniqueid))


async def stored_card(hotline: Hotline, call: TestCallResult) -> CaseCardView:
    assert hotline.case_cards is not None and call.uniqueid is not None
    found = await eventually(lambda: call_id(hotline, call.uniqueid or ""), what="the call's record")
    card = await case_card(hotline.case_cards, found)
    assert card is not None
    return card


def phone_channel(found: list[dict[str, str]], desk: Desk) -> str:
    return next(c["Channel"] for c in found if c.get("Channel", "").startswith(f"{desk.info.interface}-"))


async def test_a_blind_transfer_from_the_console_takes_the_caller_to_the_other_topic_with_the_card(
    hotline: Hotline, desk: dict[str, Desk]
) -> None:
    assert hotline.transfers is not None and hotline.transfer_targets is not None
    async with ami_events(hotline) as seen:
        call = await answered_call(hotline, seen, desk["first"])
        assert call.uniqueid is not None
        try:
            first = desk["first"].info
            card = await hotline.transfers.transfer(
                first, hotline.transfer_targets.topic("training"), mode="blind", note=NOTE
            )
            # The caller reaches the training consultant, in the training queue of their language.
            connect = await next_connect(seen, desk["training"], uniqueid=call.uniqueid)
            assert connect.queue == "training-pl"
            await eventually(
                lambda: bridged_with(hotline, call.uniqueid or "", desk["training"]),
                what="caller with training",
            )
            # The card's id is on the caller's channel and on the receiving consultant's.
            assert await channel_variable(hotline, call.uniqueid, CASE_CARD_VARIABLE) == str(card.id)
            receiving = phone_channel(await channels(hotline), desk["training"])
            assert await channel_variable(hotline, receiving, CASE_CARD_VARIABLE) == str(card.id)
        finally:
            await hang_up(hotline, call)
    stored = await stored_card(hotline, call)
    assert stored.id == card.id and stored.placed
    assert (stored.topic, stored.language) == ("jobs", "pl")
    assert stored.note == NOTE
    assert (stored.mode, stored.source, stored.target_kind, stored.target) == (
        "blind",
        "console",
        "queue",
        "training",
    )
    assert stored.consultant_name == "Konsultant first"
    assert [s.key for s in stored.ivr_path if s.key][:3] == PL_JOBS


async def test_an_attended_transfer_from_the_console_to_ecams_queue_completes_when_the_first_hangs_up(
    hotline: Hotline, desk: dict[str, Desk]
) -> None:
    assert hotline.transfers is not None and hotline.transfer_targets is not None
    async with ami_events(hotline) as seen:
        call = await answered_call(hotline, seen, desk["first"])
        assert call.uniqueid is not None
        try:
            card = await hotline.transfers.transfer(
                desk["first"].info, hotline.transfer_targets.topic("ecam"), mode="attended", note=NOTE
            )
            # The consultation: ECAM's consultant answers the first consultant (not yet the caller), in the
            # ECAM queue of the caller's language; the caller still talks to no one else.
            consultation = await next_connect(seen, desk["ecam"])
            assert consultation.queue == "ecam-pl" and consultation.uniqueid != call.uniqueid
            assert not await bridged_with(hotline, call.uniqueid, desk["ecam"])
            # The first consultant hangs up: the caller is with ECAM's consultant.
            await desk["first"].phone.hang_up()
            await eventually(
                lambda: bridged_with(hotline, call.uniqueid or "", desk["ecam"]), what="caller with ECAM"
            )
            receiving = phone_channel(await channels(hotline), desk["ecam"])
            assert await channel_variable(hotline, receiving, CASE_CARD_VARIABLE) == str(card.id)
            assert await channel_variable(hotline, call.uniqueid, CASE_CARD_VARIABLE) == str(card.id)
        finally:
            await hang_up(hotline, call)
    stored = await stored_card(hotline, call)
    assert stored.id == card.id and stored.placed
    assert (stored.mode, stored.source, stored.target_kind, stored.target) == (
        "attended",
        "console",
        "queue",
        "ecam",
    )
    assert (stored.topic, stored.language, stored.note) == ("jobs", "pl", NOTE)


@pytest.mark.parametrize("mode", ["blind", "attended"])
async def test_a_transfer_with_the_phones_feature_and_a_short_code_writes_the_card(
    hotline: Hotline, desk: dict[str, Desk], mode: str
) -> None:
    assert hotline.transfer_targets is not None
    code = hotline.transfer_targets.codes["training"]
    feature = BLIND_FEATURE if mode == "blind" else ATTENDED_FEATURE
    async with ami_events(hotline) as seen:
        call = await answered_call(hotline, seen, desk["first"])
        assert call.uniqueid is not None
        try:
            # The consultant keys the feature and the code on their phone (RFC 4733 in the call).
            await desk["first"].phone.command("sndcode", feature + code)
            connect = await next_connect(seen, desk["training"])
            assert connect.queue == "training-pl"
            if mode == "attended":
                assert not await bridged_with(hotline, call.uniqueid, desk["training"])
                await desk["first"].phone.hang_up()
            await eventually(
                lambda: bridged_with(hotline, call.uniqueid or "", desk["training"]),
                what="caller with training",
            )
        finally:
            await hang_up(hotline, call)
    stored = await stored_card(hotline, call)
    assert (stored.mode, stored.source, stored.target_kind, stored.target) == (
        mode,
        "phone",
        "queue",
        "training",
    )
    assert (stored.topic, stored.language) == ("jobs", "pl")
    assert stored.consultant_name == "Konsultant first" and stored.note == ""
    assert stored.placed


async def test_a_consultant_cannot_transfer_to_a_number_with_the_phones_feature(
    hotline: Hotline, desk: dict[str, Desk]
) -> None:
    async with ami_events(hotline) as seen:
        call = await answered_call(hotline, seen, desk["first"])
        assert call.uniqueid is not None
        try:
            await desk["first"].phone.command("sndcode", BLIND_FEATURE + "48226000000")
            # Not an extension of [hotline-transfer]: the caller stays with the first consultant.
            await asyncio.sleep(0)  # let the digits go out before looking
            assert await eventually(
                lambda: bridged_with(hotline, call.uniqueid or "", desk["first"]),
                what="caller still with first",
            )
        finally:
            await hang_up(hotline, call)
    assert hotline.case_cards is not None
    assert await hotline.case_cards.of_channel(call.uniqueid) == []


async def test_a_blind_transfer_to_ecams_external_number_goes_over_the_trunk_with_the_card(
    hotline: Hotline, desk: dict[str, Desk], carrier: Carrier
) -> None:
    assert hotline.transfers is not None and hotline.transfer_targets is not None
    # ECAM configured with its own number: what `ecam_external_number` gives the console's targets.
    ecam = replace(hotline.settings, ecam_external_number=ECAM_NUMBER)
    targets = TransferTargets(hotline.transfer_targets.queues, ecam)
    at_carrier = carrier.subscribe()
    try:
        async with ami_events(hotline) as seen:
            call = await answered_call(hotline, seen, desk["first"])
            assert call.uniqueid is not None
            try:
                card = await hotline.transfers.transfer(
                    desk["first"].info, targets.topic("ecam"), mode="blind", note=NOTE
                )
                received = await received_by_carrier(carrier, at_carrier, ECAM_NUMBER)
                assert received.fields.get("CallerNum") == CALLER_ID  # the trunk's caller ID
                await eventually(
                    lambda: caller_bridged(hotline, call.uniqueid or ""), what="caller connected out"
                )
            finally:
                await hang_up(hotline, call)
    finally:
        carrier.ami.unsubscribe(at_carrier)
    stored = await stored_card(hotline, call)
    assert stored.id == card.id and stored.placed
    assert (stored.target_kind, stored.target, stored.target_number, stored.mode) == (
        "external",
        "ecam",
        ECAM_NUMBER,
        "blind",
    )


async def test_an_attended_transfer_to_a_local_office_rings_its_verified_number_over_the_trunk(
    hotline: Hotline, desk: dict[str, Desk], carrier: Carrier
) -> None:
    assert hotline.transfers is not None and hotline.transfer_targets is not None
    office = await hotline.transfer_targets.office("PUP-2062")
    at_carrier = carrier.subscribe()
    try:
        async with ami_events(hotline) as seen:
            call = await answered_call(hotline, seen, desk["first"])
            assert call.uniqueid is not None
            try:
                card = await hotline.transfers.transfer(desk["first"].info, office, mode="attended")
                await received_by_carrier(carrier, at_carrier, OFFICE_NUMBER)
                # The office answered the first consultant; when they hang up, the caller is with the office.
                await desk["first"].phone.hang_up()
                await eventually(
                    lambda: caller_bridged(hotline, call.uniqueid or ""), what="caller with the office"
                )
                assert not await bridged_with(hotline, call.uniqueid, desk["first"])
            finally:
                await hang_up(hotline, call)
    finally:
        carrier.ami.unsubscribe(at_carrier)
    stored = await stored_card(hotline, call)
    assert stored.id == card.id
    assert (stored.target_kind, stored.target, stored.target_number, stored.mode, stored.placed) == (
        "external",
        "PUP-2062",
        OFFICE_NUMBER,
        "attended",
        True,
    )


async def caller_bridged(hotline: Hotline, uniqueid: str) -> bool:
    """Whether the caller's channel is in a bridge with someone (still on the line, talking)."""
    found = await channels(hotline)
    bridge = next((c.get("BridgeID", "") for c in found if c.get("Uniqueid") == uniqueid), "")
    return bool(bridge) and sum(1 for c in found if c.get("BridgeID") == bridge) >= 2


async def test_the_consoles_form_transfers_the_consultants_call_and_the_call_page_shows_the_card(
    hotline: Hotline, desk: dict[str, Desk]
) -> None:
    """The whole path a consultant takes: signed in to the console, the form on the home page, the call
    page of the transferred call."""
    assert hotline.consultants is not None and hotline.engine is not None
    first = desk["first"].info
    await set_password(hotline.consultants.sessions, first.username, PASSWORD)
    app = create_app(
        hotline.settings,
        engine=hotline.engine,
        consultant_states=hotline.consultant_states,
        transfers=hotline.transfers,
    )
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await signed_in(client, Account(first.username, first.display_name, "consultant"))
        async with ami_events(hotline) as seen:
            call = await answered_call(hotline, seen, desk["first"])
            assert call.uniqueid is not None
            try:
                match = CSRF.search(await (await client.get("/")).text())
                assert match
                response = await client.post(
                    "/transfer",
                    data={"csrf_token": match.group(1), "target": "training", "mode": "blind", "note": NOTE},
                    allow_redirects=False,
                )
                assert response.status == 303
                assert re.fullmatch(r"/\?transfer=[0-9]+", response.headers["Location"])
                await next_connect(seen, desk["training"], uniqueid=call.uniqueid)
                shown = await (await client.get(response.headers["Location"])).text()
                assert "Połączenie przekazane" in shown
            finally:
                await hang_up(hotline, call)
        found = await eventually(lambda: call_id(hotline, call.uniqueid or ""), what="the call's record")
        page = html.unescape(await (await client.get(f"/calls/{found}")).text())
        assert NOTE in page and "Konsultant first" in page and "bez zapowiedzi, z konsoli" in page
        assert "szkolenia i staże" in page
    finally:
        await client.close()
