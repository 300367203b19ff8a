"""ECAM configured with its own number (``ecam_external_number``): its short code on a consultant's phone
rings that number over the outbound trunk, at the carrier (devtools/carrier.py), with the case card stored.
A hotline of its own, since the number is part of the dialplan rendered at start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devtools.carrier import Carrier
from devtools.testcall import place_test_call
from hotline.ami import actions
from hotline.transfers import BLIND_FEATURE
from launcher.runner import Hotline
from tests.e2e.conftest import (
    CALLER_ID,
    Desk,
    ami_events,
    eventually,
    hang_up,
    received_by_carrier,
    trunked_hotline,
)
from tests.e2e.test_transfers import (
    ECAM_NUMBER,
    answered_call,
    caller_bridged,
    stored_card,
    transfer_desks,
)

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/baresip").exists(), reason="baresip (Debian baresip-core) is not installed"
)


@pytest.fixture(scope="module")
async def setup(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Hotline, dict[str, Desk], Carrier]]:
    folder = tmp_path_factory.mktemp("ecam-number")
    async with (
        trunked_hotline(database_url, folder, "ecam-number", ecam_external_number=ECAM_NUMBER) as (
            hotline,
            carrier,
        ),
        transfer_desks(hotline, folder, prefix="ecamnr_") as desks,
    ):
        yield hotline, desks, carrier


async def test_ecams_code_on_the_phone_rings_its_configured_number_with_the_card(
    setup: tuple[Hotline, dict[str, Desk], Carrier],
) -> None:
    hotline, desk, carrier = setup
    assert hotline.transfer_targets is not None
    code = hotline.transfer_targets.codes["ecam"]
    at_carrier = carrier.subscribe()
    try:
        async with ami_events(hotline) as seen:
            call = await answered_call(hotline, seen, desk["first"])
            assert call.uniqueid is not None
            try:
                await desk["first"].phone.command("sndcode", BLIND_FEATURE + code)
                received = await received_by_carrier(carrier, at_carrier, ECAM_NUMBER)
                assert received.fields.get("CallerNum") == CALLER_ID  # the trunk's caller ID
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
            assert received.fields.get("CallerNum") == CALLER_ID  # the trunk's caller ID
            assert result.asterisk_queue is None, result.describe()
        finally:
            await hotline.ami.send(actions.Hangup(channel=result.uniqueid or ""))
    finally:
        carrier.ami.unsubscribe(at_carrier)
