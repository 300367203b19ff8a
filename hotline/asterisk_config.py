"""Asterisk's configuration for the hotline: the committed ``asterisk_conf/`` and ``dialplans/``, and the
include files generated from the settings and the queues data (ports, the AMI secret, the FastAGI address,
the queues and their dialplan extensions).

Both the development sandbox (:mod:`devtools.sandbox`) and an Asterisk of its own in production
(``hotline asterisk-config``) are configured here, from the same files.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hotline.queues import RULE_NAME, Queues
from hotline.settings import PROJECT_ROOT, Settings
from hotline.transfers import (
    CALLER_VARIABLE,
    ECAM,
    EXTERNAL_EXTENSION,
    TRANSFER_CONTEXT,
    ecam_external_number,
    transfer_codes,
)
from hotline.trunks import OUTBOUND_CONTEXT, OUTBOUND_NUMBER_VARIABLE, Trunks, load_trunks

log = logging.getLogger(__name__)

# The dialplan context Queue() runs on a consultant's channel when they answer (dialplans/recordings.conf).
RECORDING_GOSUB = "hotline-record"

CONF_DIR = PROJECT_ROOT / "asterisk_conf"
DIALPLAN_DIR = PROJECT_ROOT / "dialplans"
# The user Debian's asterisk package creates, which asterisk.conf's runuser names.
ASTERISK_USER = "asterisk"


class AsteriskError(RuntimeError):
    """Asterisk could not be prepared, started or reached."""


def render_queues(queues: Queues) -> str:
    """``queues.conf``'s queues: one section per topic and language on the committed ``[topic-queue]``
    template, with the ring and wrap-up times of the queues file."""
    # Names are checked when the file loads; a description is flattened to one comment line.
    sections = []
    for queue in queues:
        sections.append(f"\n; {' '.join(queue.description.split())}\n")
        for target in queues.asterisk_queues():
            if target.topic == queue.name:
                sections.append(
                    f"[{target.name}](topic-queue)\ntimeout = {queues.ring_seconds}\n"
                    f"wrapuptime = {queues.wrapup_seconds}\n"
                )
    return "".join(sections)


def render_queue_rules(queues: Queues) -> str:
    """``queuerules.conf``'s rule: each routing step after the first raises the highest penalty offered."""
    lines = [f"[{RULE_NAME}]"]
    lines += [f"penaltychange => {step.after},{step.max_penalty}" for step in queues.routing[1:]]
    return "\n".join(lines) + "\n"


def render_queue_extensions(queues: Queues, *, ecam_number: str | None = None) -> str:
    """The dialplan's ``[hotline-queues]``: one extension per topic. The IVR names a topic; the dialplan
    checks the name exists here before queueing, so a wrong name cannot reach ``Queue()``. The caller's
    language (the channel's, which the IVR set) picks the topic's Asterisk queue; one not served waits in
    the first language's. With ``ecam_number`` (settings ``ecam_external_number``), ECAM's topic is that
    number over the outbound trunk instead of a queue: a fixed number of the configuration, never the
    caller's."""
    lines = ["[hotline-queues]"]
    first, *others = queues.languages
    for queue in queues:
        lines.append(f"exten => {queue.name},1,Set(CDR(hotline_queue)={queue.name})")
        if queue.name == ECAM and ecam_number is not None:
            lines += [
                f" same => n,Set(_HOTLINE_OUTBOUND_NUMBER={ecam_number})",
                " same => n,Goto(hotline-transfer-external,s,1)",
            ]
            continue
        lines += [
            f" same => n,Set(HOTLINE_ASTERISK_QUEUE={queues.asterisk_name(queue.name, first)})",
        ]
        lines += [
            f' same => n,ExecIf($["${{CHANNEL(language)}}" = "{language}"]'
            f"?Set(HOTLINE_ASTERISK_QUEUE={queues.asterisk_name(queue.name, language)}))"
            for language in others
        ]
        lines += [" same => n,Goto(hotline-queue-wait,s,1)"]
    position = "${FILTER(0-9,${HOTLINE_QUEUE_POSITION})}"
    lines += [
        "",
        "; Waiting: the first routing step's reach, then the queue rule widens it (hotline/queues.yaml).",
        "; A consultant who answers is recorded: the queue runs [hotline-record] (its gosub argument) on",
        "; their channel (dialplans/recordings.conf), which inherits the caller's uniqueid and the queue.",
        "[hotline-queue-wait]",
        f"exten => s,1,Set(QUEUE_MAX_PENALTY={queues.initial_max_penalty})",
        *_recorded_and_transferable(),
        # t: the consultant may transfer the caller (features.conf); the caller may not.
        f" same => n,Queue(${{HOTLINE_ASTERISK_QUEUE}},t,,,,,{RECORDING_GOSUB},{RULE_NAME})",
        " same => n,Hangup()",
        "",
        "; The call-back key, pressed while waiting (queues.conf: context = hotline-queue-keys): the FastAGI",
        "; route books the call-back and puts a placeholder in the caller's place (hotline/callbacks.py);",
        "; a caller it cannot book goes back into the queue at the place they left.",
        "[hotline-queue-keys]",
        f"exten => {queues.callback_key},1,Set(HOTLINE_QUEUE_POSITION=${{QUEUEPOSITION}})",
        " same => n,AGI(agi://${HOTLINE_FASTAGI}/queue-callback,${HOTLINE_QUEUE_POSITION})",
        ' same => n,GotoIf($["${HOTLINE_CALLBACK}" = "booked"]?booked)',
        f" same => n,Set(QUEUE_MAX_PENALTY={queues.initial_max_penalty})",
        f" same => n,Queue(${{HOTLINE_ASTERISK_QUEUE}},t,,,,,{RECORDING_GOSUB},{RULE_NAME},{position})",
        " same => n(booked),Hangup()",
        "",
        "; The placeholder's queue half: waits where the caller was (or last); the consultant who takes it",
        "; hears the whisper first. Reached only by the services' AMI Originate (hotline.callbacks). Its",
        "; call is an inbound caller's for the consultant: recorded once they answer, and transferable",
        "; (the placeholder's queue half is what a transfer moves; the called-back caller stays with it).",
        "[hotline-callback-hold]",
        "exten => hold,1,Set(QUEUE_MAX_PENALTY=${FILTER(0-9,${HOTLINE_MAX_PENALTY})})",
        *_recorded_and_transferable(),
        f" same => n,Queue(${{HOTLINE_ASTERISK_QUEUE}},t,,${{HOTLINE_WHISPER}},,,{RECORDING_GOSUB},"
        f"{RULE_NAME},{position})",
        " same => n,Hangup()",
        "",
        "; The placeholder's other half, once a consultant took it: the caller is called back over the",
        "; outbound trunk (the number the services checked, inherited as HOTLINE_OUTBOUND_NUMBER), hears",
        "; the recording notice when they answer (Dial's U: [hotline-callback-notice] plays HOTLINE_NOTICE,",
        "; a prompt's path the services checked, none when empty), then talks with the consultant.",
        "[hotline-callback-connect]",
        "exten => s,1,UserEvent(HotlineCallbackDialing,Id: ${HOTLINE_CALLBACK_ID})",
        ' same => n,Set(HOTLINE_DIAL_OPTIONS=${IF($["${HOTLINE_NOTICE}" != ""]'
        "?U(hotline-callback-notice^${HOTLINE_NOTICE}))})",
        " same => n,Dial(Local/s@hotline-outbound/n,${FILTER(0-9,${HOTLINE_CALLBACK_RING})},"
        "${HOTLINE_DIAL_OPTIONS})",
        " same => n,Hangup()",
        "; Whoever hangs up (the caller, the consultant), the result is told once, as the channel ends.",
        "exten => h,1,UserEvent(HotlineCallbackResult,Id: ${HOTLINE_CALLBACK_ID},Status: ${DIALSTATUS})",
    ]
    return "\n".join(lines) + "\n"


def _recorded_and_transferable() -> list[str]:
    """Dialplan lines for a channel about to wait in a queue (a caller's, a call-back's placeholder): what
    the consultant's channel inherits from it. The recording's call and queue (dialplans/recordings.conf);
    for transfers (hotline/transfers.py) the caller's uniqueid (a consultation's channel already carries
    the caller's, which stays), language and topic, and the context the phone's transfer features dial in."""
    return [
        " same => n,Set(__HOTLINE_RECORDED_CALL=${UNIQUEID})",
        " same => n,Set(__HOTLINE_RECORDED_QUEUE=${HOTLINE_ASTERISK_QUEUE})",
        f' same => n,ExecIf($["${{{CALLER_VARIABLE}}}" = ""]?Set(__{CALLER_VARIABLE}=${{UNIQUEID}}))',
        " same => n,Set(__HOTLINE_CALLER_LANGUAGE=${CHANNEL(language)})",
        ' same => n,ExecIf($["${HOTLINE_CALLER_TOPIC}" = ""]'
        "?Set(__HOTLINE_CALLER_TOPIC=${FILTER(a-z_,${HOTLINE_TOPIC})}))",
        f" same => n,Set(__TRANSFER_CONTEXT={TRANSFER_CONTEXT})",
    ]


def render_consultant_codes(queues: Queues) -> str:
    """The consultants' phones' feature codes (``[hotline-consultant-codes]``): log in, log out, pause with a
    reason, available. Each runs the FastAGI route ``consultant``, which changes the state in the database
    and in Asterisk's queues; nothing else is reachable from a consultant's phone."""
    codes = [("*1", "login", ""), ("*2", "logout", ""), ("*4", "available", "")]
    codes += [(f"*3{r.code}", "pause", r.name) for r in queues.pause_reasons.values() if r.code is not None]
    lines = ["[hotline-consultant-codes]"]
    lines += [
        f"exten => {code},1,Gosub(hotline-consultant-code,s,1({action},{reason}))"
        for code, action, reason in codes
    ]
    return "\n".join(lines) + "\n"


def render_transfer_extensions(queues: Queues, settings: Settings) -> str:
    """The dialplan's ``[hotline-transfer]``: a fixed short code per topic (70, 71, …), which the
    consultants' in-call transfer features and the console reach, and 79, which dials only the
    number the transfer's case card holds. Each first runs ``[hotline-transfer-card]`` (the case card);
    a topic's code then queues the caller in that topic, in their own language (``[hotline-queues]``)."""
    codes = transfer_codes(queues)
    ecam_number = ecam_external_number(settings)
    lines = [f"[{TRANSFER_CONTEXT}]"]
    for topic, code in codes.items():
        lines.append(f"exten => {code},1,Gosub(hotline-transfer-card,s,1({topic}))")
        if topic == ECAM and ecam_number is not None:
            lines += [
                f" same => n,Set(_HOTLINE_OUTBOUND_NUMBER={ecam_number})",
                " same => n,Goto(hotline-transfer-external,s,1)",
            ]
        else:
            lines.append(f" same => n,Goto(hotline-queues,{topic},1)")
    lines += [
        f"exten => {EXTERNAL_EXTENSION},1,Set(HOTLINE_OUTBOUND_NUMBER=)",
        f" same => n,Gosub(hotline-transfer-card,s,1({EXTERNAL_EXTENSION}))",
        # Only the number the route read from the console's case card (set by the services, never typed).
        ' same => n,GotoIf($["${HOTLINE_OUTBOUND_NUMBER}" = ""]?refused)',
        " same => n,Set(_HOTLINE_OUTBOUND_NUMBER=${HOTLINE_OUTBOUND_NUMBER})",
        " same => n,Goto(hotline-transfer-external,s,1)",
        # No card (services down, a stale id): the caller is not dropped, the default queue takes them.
        " same => n(refused),UserEvent(HotlineTransferRefused,Reason: no external number)",
        f" same => n,Goto(hotline-queues,{queues.default},1)",
    ]
    return "\n".join(lines) + "\n"


def _sip_uri(host: str, *, loose_route: bool = False) -> str:
    # ";" starts a comment in Asterisk's configuration files: a URI parameter's is escaped.
    return f"sip:{host}" + ("\\;lr" if loose_route else "")


def render_trunks(trunks: Trunks) -> str:
    """``pjsip_trunks.conf``: per carrier trunk an endpoint (on the committed ``[hotline-endpoint]``
    template: calls land in the ``hotline`` context), its AOR (where outbound calls go), its ``identify`` (the
    only addresses its calls are taken from) and, when it registers, its credentials and registration."""
    parts = ["; Carrier trunks, generated from the trunks file (hotline/trunks.py). Never edit by hand.\n"]
    for trunk in trunks:
        name = trunk.endpoint
        proxy = (
            f"outbound_proxy = {_sip_uri(trunk.outbound_proxy, loose_route=True)}\n"
            if trunk.outbound_proxy
            else ""
        )
        auth = ""
        registration = ""
        if trunk.registration is not None:
            reg = trunk.registration
            auth = f"outbound_auth = {name}-auth\n"
            parts.append(
                f"\n[{name}-auth]\ntype = auth\nauth_type = userpass\n"
                f"username = {reg.username}\npassword = {reg.password}\n"
            )
            registration = (
                f"\n[{name}-registration]\ntype = registration\ntransport = transport-udp\n"
                f"outbound_auth = {name}-auth\nserver_uri = {_sip_uri(reg.server)}\n"
                f"client_uri = sip:{reg.username}@{reg.server}\ncontact_user = 19524\n"
                f"expiration = {reg.expiration}\nretry_interval = 30\nforbidden_retry_interval = 300\n"
                f"fatal_retry_interval = 300\nauth_rejection_permanent = no\nmax_retries = 1000000\n"
                f"{proxy}"
            )
        parts.append(
            f"\n; trunk {trunk.name!r}\n[{name}](hotline-endpoint)\naors = {name}\n"
            f"disallow = all\nallow = {','.join(trunk.codecs)}\n"
            # The caller ID of outbound calls also as P-Asserted-Identity, which carriers read.
            f"send_pai = yes\n{auth}{proxy}"
            f"\n[{name}]\ntype = aor\ncontact = {_sip_uri(trunk.host)}\n{proxy}"
            f"\n[{name}]\ntype = identify\nendpoint = {name}\nmatch = {','.join(trunk.match)}\n"
            f"{registration}"
        )
    return "".join(parts)


def render_outbound(trunks: Trunks) -> str:
    """The dialplan's ``[hotline-outbound]``: dials the number that AMI ``Originate`` put in
    ``HOTLINE_OUTBOUND_NUMBER`` over the outbound trunk, presenting the trunk's caller ID. Only the services
    reach it (``Local/s@hotline-outbound``); no other context includes it or goes to it."""
    lines = [
        "; Outbound calls, generated from the trunks file (hotline/trunks.py). Reached only by AMI Originate",
        f"; of Local/s@{OUTBOUND_CONTEXT} (hotline.trunks.outbound_originate): no other context names it.",
        f"[{OUTBOUND_CONTEXT}]",
    ]
    trunk = trunks.outbound_trunk
    if trunk is None:
        lines += [
            "exten => s,1,UserEvent(HotlineOutboundRefused,Reason: no outbound trunk)",
            " same => n,Hangup()",
        ]
        return "\n".join(lines) + "\n"
    lines += [
        # Checked as E.164 in Python already; filtered again here, and nothing else is dialled.
        f"exten => s,1,Set(NUMBER=${{FILTER(0-9+,${{{OUTBOUND_NUMBER_VARIABLE}}})}})",
        ' same => n,GotoIf($[${REGEX("^[+][1-9][0-9]{6,14}$" ${NUMBER})}]?:refused)',
        f" same => n,Set(CALLERID(num)={trunk.caller_id})",
        f" same => n,Set(CALLERID(name)={trunk.caller_name})",
        " same => n,Set(CALLERID(pres)=allowed)",
        f" same => n,Dial(PJSIP/${{NUMBER}}@{trunk.endpoint})",
        " same => n,Hangup()",
        " same => n(refused),UserEvent(HotlineOutboundRefused,Reason: not an E.164 number)",
        " same => n,Hangup()",
    ]
    return "\n".join(lines) + "\n"


def generated_includes(
    settings: Settings, queues: Queues, *, moh_dir: str, trunks: Trunks | None = None
) -> dict[str, str]:
    """The per-instance include files that the committed configuration names (``trunks``: none if None)."""
    trunks = trunks if trunks is not None else Trunks(by_name={})
    extra = [name.strip() for name in settings.extra_dialplans.split(",") if name.strip()]
    return {
        "hotline_globals.conf": (
            f"HOTLINE_FASTAGI={settings.fastagi_address}\nHOTLINE_DEFAULT_QUEUE={queues.default}\n"
        ),
        "queues_hotline.conf": render_queues(queues),
        "extensions_queues.conf": (
            render_queue_extensions(queues, ecam_number=ecam_external_number(settings))
            + "\n"
            + render_consultant_codes(queues)
            + "\n"
            + render_transfer_extensions(queues, settings)
        ),
        "queuerules_hotline.conf": render_queue_rules(queues),
        "manager_instance.conf": f"port = {settings.ami_port}\nbindaddr = {settings.ami_host}\n",
        "manager_users.conf": (
            f"[{settings.ami_username}](hotline-service)\nsecret = {settings.ami_secret}\n\n"
            f"[{settings.ami_listener_username}](hotline-listener)\nsecret = {settings.ami_secret}\n\n"
            f"[{settings.ami_config_username}](hotline-config)\nsecret = {settings.ami_secret}\n"
        ),
        "pjsip_instance.conf": (
            "[transport-udp]\ntype = transport\nprotocol = udp\n"
            f"bind = {settings.sip_host}:{settings.sip_port}\n\n"
            f"[loopback]\ntype = aor\ncontact = sip:{settings.sip_host}:{settings.sip_port}\n\n"
            # The loopback trunk is Asterisk itself: its address and its own SIP port, nothing else.
            f"[loopback]\ntype = identify\nendpoint = loopback\n"
            f"match = {settings.sip_host}:{settings.sip_port}\n"
        ),
        "rtp_instance.conf": f"rtpstart = {settings.rtp_start}\nrtpend = {settings.rtp_end}\n",
        "moh_instance.conf": f"directory = {moh_dir}\n",
        "extensions_extra.conf": "".join(f'#include "dialplans/{name}"\n' for name in extra),
        "pjsip_trunks.conf": render_trunks(trunks),
        "extensions_outbound.conf": render_outbound(trunks),
    }


@dataclass(frozen=True)
class RunAs:
    """The user and group Asterisk runs as (``runuser``/``rungroup`` of ``asterisk.conf``), by number."""

    uid: int
    gid: int

    @classmethod
    def from_root(cls, root: Path, name: str = ASTERISK_USER) -> RunAs:
        """The user ``name`` of the system whose ``/etc/passwd`` is under ``root`` (``/`` in production)."""
        passwd = root / "etc" / "passwd"
        for line in passwd.read_text().splitlines():
            fields = line.split(":")
            if len(fields) > 3 and fields[0] == name:
                return cls(int(fields[2]), int(fields[3]))
        raise AsteriskError(f"no user {name!r} in {passwd}: is Debian's asterisk package installed there?")


def _write_private(path: Path, content: str, group: int | None) -> None:
    """Write a file that only its owner and Asterisk's group may read: never readable by anyone else, not
    even for a moment (created with its final mode, then renamed into place)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if group is None else 0o640)
    with os.fdopen(fd, "w") as fh:
        if group is not None:
            os.fchown(fh.fileno(), -1, group)
        fh.write(content)
    os.replace(tmp, path)


# The same for the development tools' other Asterisk instances (the test carrier, devtools/carrier.py).
write_private = _write_private


def write_config(
    settings: Settings,
    queues: Queues,
    etc: Path,
    *,
    asterisk_conf: str,
    moh_dir: str,
    group: int | None = None,
    trunks: Trunks | None = None,
) -> None:
    """Write Asterisk's configuration: ``asterisk_conf/``, ``dialplans/`` and the generated includes
    (``trunks``: the settings' trunks file when None; raises :class:`hotline.trunks.TrunksError`).

    Every file is the writer's and readable by Asterisk's ``group`` only (without one, by the writer only):
    the configuration holds the AMI secret and, later, the trunks' and phones' credentials."""
    if not settings.ami_secret:
        raise AsteriskError("no AMI secret: call hotline.settings.ensure_secrets first")
    if trunks is None:
        trunks = load_trunks(settings)
    if etc.exists():
        for item in etc.iterdir():
            if item.is_dir():
                shutil.rmtree(item)
            else:
                item.unlink()
    files = {path.name: path.read_text() for path in sorted(CONF_DIR.glob("*.conf"))}
    files |= {f"dialplans/{path.name}": path.read_text() for path in sorted(DIALPLAN_DIR.glob("*.conf"))}
    files["asterisk.conf"] = asterisk_conf
    files |= generated_includes(settings, queues, moh_dir=moh_dir, trunks=trunks)
    for folder in (etc, etc / "dialplans"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700 if group is None else 0o750)
        if group is not None:
            os.chown(folder, -1, group)
    for name, content in files.items():
        _write_private(etc / name, content, group)


def install_sounds(prompts_dir: Path | None, sounds: Path) -> None:
    """Copy the prompts (``<lang>/<id>.wav``) where Asterisk reads them, with the hold music beside them."""
    if prompts_dir is not None and prompts_dir.is_dir():
        for lang_dir in prompts_dir.iterdir():
            if lang_dir.is_dir():
                _copy_tree(lang_dir, sounds / lang_dir.name, ["*.wav"])
    for folder in (sounds, sounds / "hold"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
    _ensure_hold_music(sounds / "hold")
    for music in (sounds / "hold").glob("*.wav"):
        music.chmod(0o644)


def _copy_tree(source: Path, target: Path, patterns: Iterable[str]) -> None:
    """Copy the prompts, readable by Asterisk's user whatever the umask they were built with (they are
    public: nothing personal is in them)."""
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o755)
    for pattern in patterns:
        for item in source.glob(pattern):
            if item.is_file():
                shutil.copy2(item, target / item.name)
                (target / item.name).chmod(0o644)


def write_production_config(
    settings: Settings,
    queues: Queues,
    etc: Path,
    sounds: Path,
    prompts_dir: Path | None,
    *,
    group: int | None,
) -> None:
    """Configuration for an Asterisk of its own (Docker): the committed asterisk.conf layout, prompts in
    ``sounds`` (which that Asterisk must see as ``settings.asterisk_sounds_dir``); ``group`` is the group
    that Asterisk runs as there (``rungroup``), which alone may read the configuration."""
    etc.mkdir(parents=True, exist_ok=True)
    write_config(
        settings,
        queues,
        etc,
        asterisk_conf=(CONF_DIR / "asterisk.conf").read_text(),
        moh_dir=f"{settings.asterisk_sounds_dir}/hold",
        group=group,
    )
    install_sounds(prompts_dir, sounds)


def _ensure_hold_music(folder: Path) -> None:
    target = folder / "hold-01.wav"
    if target.exists():
        return
    sox = shutil.which("sox")
    if sox is None:
        log.warning("sox is missing: no hold music generated in %s", folder)
        return
    # A calm, quiet chord sequence: 8 kHz 16-bit mono, what Asterisk plays without transcoding.
    subprocess.run(
        [
            sox,
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed",
            str(target),
            "synth",
            "4",
            "sine",
            "392",
            "sine",
            "494",
            "sine",
            "587",
            "remix",
            "-",
            "gain",
            "-18",
            "fade",
            "0.5",
            "4",
            "0.5",
            "repeat",
            "7",
        ],
        check=True,
    )
