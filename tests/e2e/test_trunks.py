"""Carrier trunks, real SIP between two PBXs: the hotline's Asterisk and a carrier of its own (a second
Asterisk on 127.0.0.2, devtools/carrier.py). Calls come in from the carrier and reach the IVR; the hotline's
outbound calls reach the carrier with the hotline's caller ID; the hotline registers to the carrier with its
credentials; a request from an address that is no configured peer is refused."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from devtools.carrier import Carrier
from devtools.testcall import await_complete_wav, random_caller, sound_seconds
from hotline.ami import AgiExec, AmiError, AmiEvent, Newchannel, UserEvent, actions
from hotline.trunks import OUTBOUND_CONTEXT, OUTBOUND_NUMBER_VARIABLE, outbound_originate
from launcher.runner import Hotline
from tests.e2e.conftest import CALLER_ID, eventually, trunked_hotline
from tests.e2e.test_call_flow import stored_call
from tests.e2e.test_security import final_answer

pytestmark = pytest.mark.asterisk

# An address of this machine's loopback range that is no peer of the hotline.
UNKNOWN_PEER = "127.0.0.3"


@pytest.fixture(scope="module")
async def trunked(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Hotline, Carrier]]:
    """A hotline whose one trunk goes to the carrier (by address both ways, and registered to it), and the
    carrier, started once for the module."""
    async with trunked_hotline(database_url, tmp_path_factory.mktemp("trunks"), "test-trunks") as both:
        yield both


async def next_matching(
    events: asyncio.Queue[AmiEvent], what: str, check: Callable[[AmiEvent], object]
) -> AmiEvent:
    """The next event for which ``check(event)`` is true, within a generous deadline."""
    try:
        async with asyncio.timeout(30):
            while True:
                event = await events.get()
                if check(event):
                    return event
    except TimeoutError:
        raise AssertionError(f"not within 30 s: {what}") from None


async def test_a_call_from_the_carrier_reaches_the_ivr_and_is_recorded(
    trunked: tuple[Hotline, Carrier],
) -> None:
    hotline, carrier = trunked
    assert hotline.ami is not None
    events = hotline.ami.subscribe()
    caller = random_caller()
    calling_id = f"carrier-{secrets.token_hex(6)}"
    try:
        heard = await carrier.call_hotline(caller, channel_id=calling_id)
        entered = await next_matching(
            events,
            "the carrier's call entering the hotline",
            lambda e: isinstance(e, Newchannel) and e.caller_id_num == caller and e.context == "hotline",
        )
        # It came in on the carrier's trunk (identified by the carrier's address), not the loopback one.
        assert entered.channel.startswith("PJSIP/trunk-carrier-"), entered.channel
        # The IVR took it: its first prompt (the greeting) is played to the caller, to the end.
        first = await next_matching(
            events,
            "the IVR playing to the caller",
            lambda e: (
                isinstance(e, AgiExec)
                and e.uniqueid == entered.uniqueid
                and e.phase == "start"
                and e.command.upper().startswith("STREAM FILE")
            ),
        )
        assert isinstance(first, AgiExec)
        played = await next_matching(
            events,
            "the first prompt played",
            lambda e: isinstance(e, AgiExec) and e.command_id == first.command_id and e.phase == "end",
        )
        assert isinstance(played, AgiExec) and played.result_code == 200, played
    finally:
        hotline.ami.unsubscribe(events)
        await carrier.hang_up(calling_id)
    # Media crossed the trunk: the caller at the carrier heard the greeting, not silence.
    await await_complete_wav(heard, deadline=asyncio.get_running_loop().time() + 15)
    assert sound_seconds(heard) >= 1.0
    call = await stored_call(hotline, entered.uniqueid)
    assert call.caller_number == caller
    assert call.channel is not None and call.channel.startswith("PJSIP/trunk-carrier-")
    assert call.dialed == "19524"


async def test_an_outbound_call_reaches_the_carrier_with_the_hotlines_caller_id(
    trunked: tuple[Hotline, Carrier],
) -> None:
    hotline, carrier = trunked
    assert hotline.ami is not None
    reports = carrier.subscribe()
    channel_id = f"outbound-{secrets.token_hex(6)}"
    try:
        # Once the called person answers, the hotline's side waits on the line (a consultant, later).
        await hotline.ami.send(
            outbound_originate("600 123 456", context="hotline-testcall", channel_id=channel_id), timeout=40
        )
        report = await next_matching(reports, "the carrier receiving the call", Carrier.received)
    finally:
        carrier.ami.unsubscribe(reports)
        await hotline.ami.send(actions.Hangup(channel=channel_id))
    assert report.fields["Number"] == "+48600123456"
    assert report.fields["CallerNum"] == CALLER_ID
    assert report.fields["CallerName"] == "Zielona Linia 19524"
    # The carrier knows the hotline by its address.
    assert report.fields["Endpoint"] == "hotline"


async def test_the_outbound_context_dials_nothing_but_a_phone_number(
    trunked: tuple[Hotline, Carrier],
) -> None:
    """Even an Originate that bypasses hotline.trunks' check gets nothing dialled but a phone number: the
    dialplan refuses the rest before its Dial."""
    hotline, _ = trunked
    assert hotline.ami is not None
    events = hotline.ami.subscribe()
    try:
        with contextlib.suppress(AmiError):  # the call fails, as it should
            await hotline.ami.send(
                actions.Originate(
                    channel=f"Local/s@{OUTBOUND_CONTEXT}",
                    context="hotline-testcall",
                    exten="s",
                    priority=1,
                    channel_id=f"outbound-{secrets.token_hex(6)}",
                    variables={OUTBOUND_NUMBER_VARIABLE: "1)&Local(s@hotline"},
                ),
                timeout=40,
            )
        refused = await next_matching(
            events,
            "the outbound context refusing the number",
            lambda e: isinstance(e, UserEvent) and e.user_event == "HotlineOutboundRefused",
        )
    finally:
        hotline.ami.unsubscribe(events)
    assert "E.164" in refused.fields.get("Reason", "")


async def register_without_credentials(carrier: Carrier, username: str) -> int:
    """Send a REGISTER for ``username`` without credentials to the carrier; the status of its answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    call_id = secrets.token_hex(8)
    target = carrier.sip_address
    message = (
        f"REGISTER sip:{target} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{username}@{target}>;tag={secrets.token_hex(4)}\r\n"
        f"To: <sip:{username}@{target}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 REGISTER\r\n"
        f"Contact: <sip:19524@127.0.0.1:{port}>\r\n"
        "Expires: 60\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    loop = asyncio.get_running_loop()
    try:
        host, sip_port = target.rsplit(":", 1)
        await loop.sock_sendto(sock, message.encode(), (host, int(sip_port)))
        async with asyncio.timeout(15):
            while True:
                text = (await loop.sock_recv(sock, 65535)).decode(errors="replace")
                status = re.match(r"SIP/2\.0 (\d{3})", text)
                if status and call_id in text and int(status.group(1)) >= 200:
                    return int(status.group(1))
    finally:
        sock.close()


async def test_the_hotline_registers_to_the_carrier_with_its_credentials(
    trunked: tuple[Hotline, Carrier],
) -> None:
    hotline, carrier = trunked
    assert hotline.asterisk is not None

    async def registered() -> str | None:
        assert hotline.asterisk is not None
        _, out = await hotline.asterisk.cli("pjsip show registrations")
        line = next((line for line in out.splitlines() if "trunk-carrier-registration" in line), "")
        return line if "Registered" in line else None

    await eventually(registered, timeout=30, what="the trunk's registration Registered")
    # The carrier takes no registration of that account without its credentials.
    assert await register_without_credentials(carrier, "hotline19524") == 401
    # The carrier holds the hotline's contact for its account, where its calls to the hotline go.
    _, contacts = await carrier.asterisk.cli("pjsip show contacts")
    port = hotline.settings.sip_port
    assert re.search(rf"hotline19524/sip:19524@127\.0\.0\.1:{port}\b", contacts), contacts


async def test_a_call_from_an_unknown_peer_is_refused(trunked: tuple[Hotline, Carrier]) -> None:
    hotline, _ = trunked
    assert hotline.asterisk is not None
    for name in ("trunk-carrier", "carrier", "anonymous", "19524"):
        status = await final_answer(name, hotline.settings.sip_port, UNKNOWN_PEER)
        assert status in (401, 403, 404), f"an INVITE as {name!r} from {UNKNOWN_PEER} was answered {status}"
    # Asterisk's security log shows each request from there: no endpoint of the hotline took it (the account
    # is unknown, whatever name the request gave), and it was only challenged for credentials it has not got.
    log = hotline.asterisk_path("log", "security.log")

    async def logged() -> bool:
        text = log.read_text(errors="replace") if log.exists() else ""
        refused = [
            line
            for line in text.splitlines()
            if 'Service="PJSIP"' in line and f'RemoteAddress="IPV4/UDP/{UNKNOWN_PEER}/' in line
        ]
        return len(refused) >= 4 and all('AccountID="<unknown>"' in line for line in refused)

    await eventually(logged, what=f"Asterisk's security log showing the refused request from {UNKNOWN_PEER}")
