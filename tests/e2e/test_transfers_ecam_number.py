"""ECAM configured with its own number (``ecam_external_number``): its short code on a consultant's phone
rings that number over the outbound trunk, at the carrier (devtools/carrier.py), with the case card stored.
A hotline of its own, since the number is part of the dialplan rendered at start."""

from __future__ import annotations

import random
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devtools.carrier import Carrier, CarrierAccount
from devtools.testcall import place_test_call
from hotline.ami import actions
from hotline.settings import free_ports, load_settings
from hotline.transfers import BLIND_FEATURE
from launcher.runner import Hotline
from tests.e2e.conftest import eventually, running_hotline
from tests.e2e.test_transfers import (
    ECAM_NUMBER,
    Desk,
    add_desks,
    answered_call,
    caller_bridged,
    events,
    hang_up,
    received_by_carrier,
    remove_desks,
    stored_card,
)
from tests.e2e.test_trunks import write_trunks_file

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/baresip").exists(), reason="baresip (Debian baresip-core) is not installed"
)


@pytest.fixture(scope="module")
async def setup(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Hotline, dict[str, Desk], Carrier]]:
    folder = tmp_path_factory.mktemp("ecam-number")
    hotline_ports = free_ports()
    carrier_ports = free_ports()
    account = CarrierAccount("hotline19524", secrets.token_urlsafe(16))
    carrier = Carrier(
        load_settings().asterisk_root,
        sip_port=carrier_ports["sip_port"],
        ami_port=carrier_ports["ami_port"],
        rtp_start=random.randrange(30000, 39000, 2),
        hotline_sip_port=hotline_ports["sip_port"],
        account=account,
    )
    trunks_file = write_trunks_file(folder, carrier, account)
    desks: dict[str, Desk] = {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOTLINE_TRUNK_CARRIER_PASSWORD", account.password)
        try:
            await carrier.start()
            async with running_hotline(
                database_url,
                folder / "state",
                "ecam-number",
                trunks_file=trunks_file,
                ecam_external_number=ECAM_NUMBER,
                **hotline_ports,
            ) as hotline:
                try:
                    await add_desks(hotline, folder, desks, prefix="ecamnr")
                    yield hotline, desks, carrier
                finally:
                    await remove_desks(hotline, desks)
            assert carrier.asterisk.error_lines() == []
        finally:
            for desk in desks.values():
                if desk.phone is not None:
                    await desk.phone.stop()
            await carrier.stop()


async def test_ecams_code_on_the_phone_rings_its_configured_number_with_the_card(
    setup: tuple[Hotline, dict[str, Desk], Carrier],
) -> None:
    hotline, desk, carrier = setup
    assert hotline.transfer_targets is not None
    code = hotline.transfer_targets.codes["ecam"]
    at_carrier = carrier.subscribe()
    try:
        async with events(hotline) as seen:
            call = await answered_call(hotline, seen, desk["first"])
            assert call.uniqueid is not None
            try:
                await desk["first"].phone.command("sndcode", BLIND_FEATURE + code)
                received = await received_by_carrier(carrier, at_carrier, ECAM_NUMBER)
                assert received.fields.get("CallerNum") == "+48221234567"  # the trunk's caller ID
                await eventually(
                    lambda: caller_bridged(hotline, call.uniqueid or ""), what="caller with ECAM"
                )
            finally:
                await hang_up(hotline, call)
    finally:
        carrier.ami.unsubscribe(at_carrier)
    stored = await stored_card(hotline, call)
    assert (stored.source, stored.mode, stored.target_kind, stored.target, stored.target_number) == (
        "phone",
        "blind",
        "external",
        "ecam",
        ECAM_NUMBER,
    )
    assert stored.consultant_name == "Konsultant first" and stored.placed


async def test_a_caller_choosing_young_people_and_a_consultant_reaches_ecams_number(
    setup: tuple[Hotline, dict[str, Desk], Carrier],
) -> None:
    """Menu option 6 then 0, with ECAM configured with its own number: the caller is put through to that
    number over the trunk, not into a queue."""
    hotline, _desk, carrier = setup
    assert hotline.ami is not None
    at_carrier = carrier.subscribe()
    try:
        result = await place_test_call(
            hotline.ami, "19524", ["1", "6", "0"], until="settled", hang_up=False, timeout=25
        )
        try:
            received = await received_by_carrier(carrier, at_carrier, ECAM_NUMBER)
            assert received.fields.get("CallerNum") == "+48221234567"  # the trunk's caller ID
            assert result.asterisk_queue is None, result.describe()
        finally:
            await hotline.ami.send(actions.Hangup(channel=result.uniqueid or ""))
    finally:
        carrier.ami.unsubscribe(at_carrier)
