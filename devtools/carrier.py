"""A carrier of its own for the end-to-end tests: a second Asterisk from the sandbox root, on 127.0.0.2, as
the SIP peer at the other end of the hotline's trunk. Real SIP between two PBXs, both ways:

- it places callers' calls into the hotline (``PJSIP/19524@hotline``), from 127.0.0.2, which the hotline's
  trunk accepts by address;
- it answers the calls the hotline places over the trunk, and reports each on its own AMI as a
  ``UserEvent(CarrierCallReceived)`` with the number dialled, the caller ID presented and the endpoint the
  call came in on;
- it is the hotline's registrar: the hotline's account (``username``/``password``) must authenticate.

Same root and machinery as the hotline's sandbox (:mod:`devtools.sandbox`): an instance folder of its own
(``carrier-<pid>``), its own ports, Asterisk run as the root's unprivileged user.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from devtools.sandbox import (
    INSTANCES_IN_ROOT,
    OWNER_FILE,
    WRITABLE,
    AsteriskProcess,
    InstancePaths,
    _ensure_hosts_file,
    _instance_asterisk_conf,
    _modules_dir,
    ensure_root,
)
from hotline.ami import AmiClient, AmiEvent, UserEvent, actions
from hotline.asterisk_config import CONF_DIR, RunAs, write_private
from hotline.settings import Settings

CARRIER_HOST = "127.0.0.2"
# Where the carrier's subscribers' calls into the hotline wait on the line (the calling leg).
CALLING_CONTEXT = "carrier-caller"
# Where calls from the hotline land.
FROM_HOTLINE_CONTEXT = "carrier-from-hotline"
RECEIVED_EVENT = "CarrierCallReceived"

# Asterisk's core reads these at start; the hotline's are plain and fit the carrier too.
SHARED_FILES = (
    "acl.conf",
    "ccss.conf",
    "cel.conf",
    "features.conf",
    "indications.conf",
    "pjproject.conf",
    "udptl.conf",
)

MODULES = """[modules]
autoload = no
load => res_sorcery_config.so
load => res_sorcery_memory.so
load => res_sorcery_astdb.so
load => res_timing_timerfd.so
load => pbx_config.so
load => res_pjproject.so
load => res_pjsip.so
load => res_pjsip_session.so
load => res_pjsip_pubsub.so
load => chan_pjsip.so
load => res_pjsip_endpoint_identifier_ip.so
load => res_pjsip_endpoint_identifier_user.so
load => res_pjsip_authenticator_digest.so
load => res_pjsip_registrar.so
load => res_pjsip_caller_id.so
load => res_pjsip_sdp_rtp.so
load => res_pjsip_nat.so
load => res_rtp_asterisk.so
load => codec_ulaw.so
load => codec_alaw.so
load => format_wav.so
load => format_pcm.so
load => bridge_simple.so
load => app_userevent.so
load => app_mixmonitor.so
load => func_callerid.so
load => func_channel.so
load => func_strings.so
load => func_timeout.so
"""

EXTENSIONS = f"""[general]
static = yes
writeprotect = yes

; Calls the hotline places over its trunk: reported on the AMI (number dialled, caller ID presented, the
; endpoint they came in on), answered, held for a while.
[{FROM_HOTLINE_CONTEXT}]
; Numbers +48500… ring and are never answered (a subscriber who does not pick up).
exten => _+48500.,1,UserEvent({RECEIVED_EVENT},Number: ${{EXTEN}},CallerNum: ${{CALLERID(num)}},\
CallerName: ${{CALLERID(name)}},Endpoint: ${{CHANNEL(endpoint)}})
 same => n,Ringing()
 same => n,Wait(300)
 same => n,Hangup()
exten => _[+0-9].,1,UserEvent({RECEIVED_EVENT},Number: ${{EXTEN}},CallerNum: ${{CALLERID(num)}},\
CallerName: ${{CALLERID(name)}},Endpoint: ${{CHANNEL(endpoint)}})
 same => n,Set(TIMEOUT(absolute)=300)
 same => n,Answer()
 same => n,Wait(300)
 same => n,Hangup()

; The calling side of a call the carrier places into the hotline: it stays on the line, and records what the
; caller hears into <spool>/monitor/carrier-<id>.wav when CARRIER_CALL_ID names it.
[{CALLING_CONTEXT}]
exten => s,1,Set(TIMEOUT(absolute)=600)
 same => n,Set(ID=${{FILTER(0-9a-f,${{CARRIER_CALL_ID}})}})
 same => n,GotoIf($["${{ID}}" = ""]?wait)
 same => n,MixMonitor(carrier-${{ID}}.wav)
 same => n(wait),Wait(600)
 same => n,Hangup()
"""


@dataclass(frozen=True)
class CarrierAccount:
    """The hotline's account at the carrier's registrar."""

    username: str
    password: str


def carrier_files(
    *,
    sip_port: int,
    ami_port: int,
    ami_secret: str,
    rtp_start: int,
    hotline_sip_port: int,
    account: CarrierAccount,
) -> dict[str, str]:
    """The carrier's configuration files (besides ``asterisk.conf``)."""
    name = account.username
    pjsip = f"""[global]
type = global
user_agent = Test carrier
; The hotline's REGISTER is identified by its account's name and must authenticate; its calls by address.
endpoint_identifier_order = username,ip

[transport-udp]
type = transport
protocol = udp
bind = {CARRIER_HOST}:{sip_port}

[peer](!)
type = endpoint
context = {FROM_HOTLINE_CONTEXT}
disallow = all
allow = alaw,ulaw
dtmf_mode = rfc4733
direct_media = no
rtp_symmetric = yes
trust_id_inbound = yes
media_address = {CARRIER_HOST}
bind_rtp_to_media_address = yes

; The hotline as a peer by address: calls both ways.
[hotline](peer)
aors = hotline

[hotline]
type = aor
contact = sip:127.0.0.1:{hotline_sip_port}

[hotline]
type = identify
endpoint = hotline
match = 127.0.0.1

; The hotline's account at this registrar.
[{name}](peer)
aors = {name}
auth = {name}-auth

[{name}]
type = aor
max_contacts = 1
remove_existing = yes

[{name}-auth]
type = auth
auth_type = userpass
username = {name}
password = {account.password}
"""
    manager = f"""[general]
enabled = yes
webenabled = no
port = {ami_port}
bindaddr = 127.0.0.1

[carrier]
secret = {ami_secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = call,user
write = call,originate
"""
    return {
        "modules.conf": MODULES,
        "pjsip.conf": pjsip,
        "extensions.conf": EXTENSIONS,
        "manager.conf": manager,
        "rtp.conf": f"[general]\nrtpstart = {rtp_start}\nrtpend = {rtp_start + 100}\n",
        "logger.conf": (CONF_DIR / "logger.conf").read_text(),
        "cdr.conf": "[general]\nenable = no\n",
        **{name: (CONF_DIR / name).read_text() for name in SHARED_FILES},
    }


class Carrier:
    """The carrier's Asterisk and an AMI connection to it."""

    def __init__(
        self,
        asterisk_root: Path,
        *,
        sip_port: int,
        ami_port: int,
        rtp_start: int,
        hotline_sip_port: int,
        account: CarrierAccount,
    ) -> None:
        self.settings = Settings(
            asterisk_root=asterisk_root,
            asterisk_instance=f"carrier-{os.getpid()}",
            sip_host=CARRIER_HOST,
            sip_port=sip_port,
            ami_port=ami_port,
            ami_username="carrier",
            ami_secret=secrets.token_urlsafe(18),
        )
        self.rtp_start = rtp_start
        self.hotline_sip_port = hotline_sip_port
        self.account = account
        self.paths = InstancePaths(asterisk_root, INSTANCES_IN_ROOT / self.settings.asterisk_instance)
        self.asterisk = AsteriskProcess(self.settings, self.paths)
        self.ami = AmiClient(self.settings)

    @property
    def sip_address(self) -> str:
        return f"{CARRIER_HOST}:{self.settings.sip_port}"

    def prepare(self) -> None:
        """Lay out the instance folder: configuration, and Asterisk's own writable folders."""
        root = self.settings.asterisk_root
        ensure_root(self.settings)
        _ensure_hosts_file(root)
        run_as = RunAs.from_root(root)
        folder = self.paths.host()
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        (folder / OWNER_FILE).write_text(f"{os.getpid()}\n")
        etc = self.paths.host("etc")
        if etc.exists():
            shutil.rmtree(etc)
        etc.mkdir(mode=0o750)
        os.chown(etc, -1, run_as.gid)
        files = carrier_files(
            sip_port=self.settings.sip_port,
            ami_port=self.settings.ami_port,
            ami_secret=self.settings.ami_secret,
            rtp_start=self.rtp_start,
            hotline_sip_port=self.hotline_sip_port,
            account=self.account,
        )
        files["asterisk.conf"] = _instance_asterisk_conf(self.paths, _modules_dir(root))
        for name, content in files.items():
            write_private(etc / name, content, run_as.gid)
        for name in WRITABLE:
            path = self.paths.host(name)
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, run_as.uid, run_as.gid)
            path.chmod(0o750)

    async def start(self) -> None:
        await asyncio.to_thread(self.prepare)
        await self.asterisk.start()
        await self.ami.start()
        await self.ami.wait_connected()

    async def stop(self) -> None:
        await self.ami.close()
        await self.asterisk.stop()
        shutil.rmtree(self.paths.host(), ignore_errors=True)

    async def call_hotline(self, caller: str, *, channel_id: str, number: str = "19524") -> Path:
        """A subscriber of the carrier calls ``number`` at the hotline, presenting ``caller``; returns the
        file where what they hear is recorded (complete once the call has ended)."""
        token = secrets.token_hex(6)
        await self.ami.send(
            actions.Originate(
                channel=f"PJSIP/{number}@hotline",
                context=CALLING_CONTEXT,
                exten="s",
                priority=1,
                caller_id=f'"Caller" <{caller}>',
                channel_id=channel_id,
                timeout_ms=30000,
                variables={"CARRIER_CALL_ID": token},
            ),
            timeout=35,
        )
        return self.paths.host("spool", "monitor", f"carrier-{token}.wav")

    async def hang_up(self, channel: str) -> None:
        await self.ami.send(actions.Hangup(channel=channel))

    def subscribe(self) -> asyncio.Queue[AmiEvent]:
        return self.ami.subscribe()

    @staticmethod
    def received(event: AmiEvent) -> UserEvent | None:
        """The carrier's report of a call that reached it from the hotline."""
        if isinstance(event, UserEvent) and event.user_event == RECEIVED_EVENT:
            return event
        return None
