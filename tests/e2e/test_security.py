"""The hotline's Asterisk as an outsider and a curious local user would try it: SIP by name from an unlisted
address, AMI actions beyond what the services need, the user Asterisk runs as."""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from hotline.ami import AmiAction, AmiClient, AmiError
from launcher.runner import Hotline

# An address of this machine's loopback range that no endpoint of the hotline lists.
OUTSIDER = "127.0.0.5"


def sip_invite(
    endpoint: str, target_port: int, source_port: int, source: str = OUTSIDER
) -> tuple[bytes, str]:
    call_id = secrets.token_hex(8)
    branch = "z9hG4bK" + secrets.token_hex(8)
    sdp = (
        "v=0\r\n"
        f"o=- 1 1 IN IP4 {source}\r\n"
        "s=-\r\n"
        f"c=IN IP4 {source}\r\n"
        "t=0 0\r\n"
        f"m=audio {source_port + 2} RTP/AVP 0 8 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
    )
    message = (
        f"INVITE sip:19524@127.0.0.1:{target_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {source}:{source_port};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f'From: "{endpoint}" <sip:{endpoint}@127.0.0.1>;tag={secrets.token_hex(4)}\r\n'
        f"To: <sip:19524@127.0.0.1:{target_port}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Contact: <sip:{endpoint}@{source}:{source_port}>\r\n"
        "Content-Type: application/sdp\r\n"
        f"Content-Length: {len(sdp)}\r\n"
        "\r\n"
        f"{sdp}"
    )
    return message.encode(), call_id


async def final_answer(endpoint: str, target_port: int, source: str = OUTSIDER) -> int:
    """Send a real SIP INVITE from ``source`` naming ``endpoint``; the status of Asterisk's final answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        invite, call_id = sip_invite(endpoint, target_port, sock.getsockname()[1], source)
        await loop.sock_sendto(sock, invite, ("127.0.0.1", target_port))
        async with asyncio.timeout(15):
            while True:
                data = await loop.sock_recv(sock, 65535)
                text = data.decode(errors="replace")
                status = re.match(r"SIP/2\.0 (\d{3})", text)
                if status and call_id in text and int(status.group(1)) >= 200:
                    return int(status.group(1))
    finally:
        sock.close()


async def endpoints(hotline: Hotline) -> list[str]:
    assert hotline.asterisk is not None
    code, out = await hotline.asterisk.cli("pjsip show endpoints")
    assert code == 0
    names = re.findall(r"^\s*Endpoint:\s+([A-Za-z0-9_.-]+)", out, re.M)
    return [name for name in names if name != "<Endpoint/CID"]


async def test_no_endpoint_is_reachable_by_name_from_an_unlisted_address(hotline: Hotline) -> None:
    names = await endpoints(hotline)
    assert "loopback" in names
    for name in [*names, "anonymous", "someone"]:
        status = await final_answer(name, hotline.settings.sip_port)
        assert status in (401, 403, 404), f"an INVITE as {name!r} from {OUTSIDER} was answered {status}"


@dataclass(frozen=True)
class _Raw(AmiAction):
    """An action the services never send: only the test builds it."""

    action: ClassVar[str] = ""
    name: str = ""
    headers_: tuple[tuple[str, str], ...] = ()

    def headers(self) -> dict[str, str | list[str]]:
        return {"Action": self.name, **dict(self.headers_)}


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        ("ModuleLoad", (("Module", "app_system.so"), ("LoadType", "load"))),
        ("Command", (("Command", "core show version"),)),
        ("Originate", (("Channel", "Local/s@hotline-testcall"), ("Application", "System"), ("Data", "id"))),
        ("UpdateConfig", (("SrcFilename", "manager.conf"), ("DstFilename", "manager.conf"))),
        ("GetConfig", (("Filename", "manager_users.conf"),)),
        ("Reload", (("Module", "manager"),)),
    ],
)
async def test_the_services_ami_user_may_not_do_more_than_the_services_need(
    hotline: Hotline, name: str, headers: tuple[tuple[str, str], ...]
) -> None:
    ami = AmiClient(hotline.settings)
    await ami.start()
    try:
        await ami.wait_connected()
        with pytest.raises(AmiError, match=r"ermission denied|Access Forbidden"):
            await ami.send(_Raw(name=name, headers_=headers))
    finally:
        await ami.close()


def _uid_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^Uid:\s+(\d+)", status, re.M)
    assert match is not None
    return int(match.group(1))


async def test_asterisk_runs_as_an_unprivileged_user_of_its_own(hotline: Hotline) -> None:
    assert hotline.asterisk is not None
    pid = hotline.asterisk.paths.asterisk_pid()
    assert pid is not None
    assert _uid_of(pid) != 0
    # What Asterisk writes (logs, recordings) is its own, and nobody else's to read.
    log_dir = hotline.asterisk_path("log")
    assert log_dir.stat().st_uid == _uid_of(pid)
    assert log_dir.stat().st_mode & 0o007 == 0
