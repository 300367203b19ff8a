"""Settings of every 19524 service: defaults < file < environment.

The file is TOML (``HOTLINE_CONFIG``, default ``<state_dir>/hotline.toml`` if present), flat keys named like
the fields below. Each field can be set from the environment as ``HOTLINE_<FIELD>`` (upper case).
Secrets never come from a committed file: they come from the environment or from ``<state_dir>/secrets.toml``,
which :func:`ensure_secrets` generates on first run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import socket
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    # Where runtime state lives: SQLite file, generated secrets, Asterisk instance folders, logs.
    state_dir: Path = PROJECT_ROOT / "var"
    # Database by URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db
    database_url: str = ""
    # Redis by URL; it may name an ACL user (redis://hotline@127.0.0.1:6379/0) and carry a password, which
    # otherwise comes from the secret below (see :func:`redis_url_with_password`). Log it with masked_url().
    redis_url: str = field(default="redis://127.0.0.1:6379/0", repr=False)
    # A secret (environment or secrets.toml, never generated here: the Redis may not be ours). The Redis that
    # `make run` starts itself gets one, written to secrets.toml by scripts/setup-system.sh.
    redis_password: str = field(default="", repr=False)
    # Keys of the live state: <prefix>:calls (hash), <prefix>:events (stream).
    redis_prefix: str = "hotline"

    # FastAGI server: loopback only.
    fastagi_host: str = "127.0.0.1"
    fastagi_port: int = 4573
    fastagi_header_timeout: float = 5.0
    # AudioSocket server (spoken answers, ivr/speech): loopback only, like FastAGI.
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = 4574
    # Speech recognition: a Vosk model folder (production: the Polish model); empty = speech off, keys only.
    speech_model_path: str = ""
    # Recognition streams at once; a caller asked while all are busy gets the keys at once.
    speech_streams: int = 4
    # Recogniser processes the streams are spread over (each loads the model once: its memory each).
    speech_processes: int = 2
    # The callers' languages (comma-separated) that the model understands: others get the keys only.
    speech_languages: str = "pl"

    # AMI: loopback only; credentials generated on first run.
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "hotline"
    ami_secret: str = field(default="", repr=False)
    ami_ping_interval: float = 5.0

    # SIP (PJSIP, UDP) of the sandboxed Asterisk.
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    rtp_start: int = 10000
    rtp_end: int = 10999

    # Agent console (aiohttp).
    console_host: str = "127.0.0.1"
    console_port: int = 8080
    console_session_key: str = field(default="", repr=False)
    # A signed-in session ends after this many minutes without a request (and always 12 hours after sign-in).
    console_idle_minutes: int = 30
    # Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto the console believes: comma-separated
    # addresses or networks (e.g. "127.0.0.1, 10.0.0.0/8"). None by default: only the socket's peer counts.
    console_trusted_proxies: str = ""

    # The Asterisk sandbox (a Debian-unstable root with Asterisk 22) and this instance's name within it.
    asterisk_root: Path = Path("/var/cache/hotline-19524/asterisk-root")
    asterisk_instance: str = "main"
    # Where the generated prompts are kept (<lang>/<id>.wav + manifest.json), shared by every instance.
    prompts_dir: Path = PROJECT_ROOT / "var" / "prompts"
    # Where Asterisk reads the prompts from, as Asterisk sees the file system (set by `hotline up`).
    asterisk_sounds_dir: str = "/var/lib/hotline-19524/sounds"
    # Asterisk's own record of the calls (asterisk_conf/cdr_custom.conf), as the hotline sees the file; the
    # database is reconciled from it after an outage. `hotline up` sets the sandbox's own.
    asterisk_call_record: Path = Path("/var/log/asterisk/cdr-custom/hotline-calls.json")
    # An Asterisk of its own: its configuration folder, where the consultants' phones are written
    # (pjsip_consultants.conf; the hotline's user must be able to write there). The sandbox uses its own.
    asterisk_etc_dir: Path = Path("/etc/asterisk")
    # `hotline up`'s watchdog replaces a worker that has not answered for this long: a caller in the IVR of
    # a frozen worker reaches the consultants' queue within about this time.
    watchdog_seconds: float = 5.0

    # Data files, validated at start: the consultants' queues (the menu and Asterisk's configuration both come
    # from it), the IVR's menu, consultants' hours and prompt texts.
    queues_file: Path = PROJECT_ROOT / "hotline" / "queues.yaml"
    menu_file: Path = PROJECT_ROOT / "ivr" / "menu.yaml"
    hours_file: Path = PROJECT_ROOT / "ivr" / "hours.yaml"
    prompts_file: Path = PROJECT_ROOT / "recordings" / "prompts.yaml"
    # While waiting in a consultants' queue (ivr/waiting.py): seconds between announcements of the caller's
    # place and expected wait (0: none); the handle time (talk and wrap-up) assumed for a queue without
    # history yet.
    wait_announce_seconds: float = 45.0
    wait_default_handle_seconds: float = 300.0
    # The sample of the local labour offices' directory: what `hotline offices import` loads without a FILE.
    labour_offices_file: Path = PROJECT_ROOT / "hotline" / "labour_offices" / "offices.csv"
    # ECAM/OHP reached over the trunk instead of its queue (transfers and the code 76): a phone number
    # (E.164 or national); empty: ECAM's consultants' queue.
    ecam_external_number: str = ""
    # Carrier trunks (hotline/trunks.py; README "Connecting a carrier"). The committed file has none; their
    # passwords come from the environment (HOTLINE_TRUNK_<NAME>_PASSWORD) or secrets.toml, never the file.
    trunks_file: Path = PROJECT_ROOT / "hotline" / "trunks.yaml"
    # Callers of the last N days are offered their topic again.
    returning_caller_days: int = 14
    # Call-backs (hotline/callbacks.py): attempts per request, seconds between them, how long the caller's
    # phone rings, how often the dialer looks for pending requests while the hotline is open.
    callback_attempts: int = 3
    callback_retry_seconds: int = 600
    callback_ring_seconds: int = 30
    callback_poll_seconds: float = 5.0

    # Extra files of dialplans/ that this instance includes (comma-separated), e.g. "bench.conf" for the
    # benchmarks' plain-dialplan menu. Production includes none.
    extra_dialplans: str = ""

    # Personal data (RODO). Days the records keep what identifies a caller: after that `hotline purge`
    # anonymises the call (number, raw caller ID, channel, link to the caller's previous call), deletes its
    # menu steps (all but the last, which the supervisor's time-in-menu figure reads) and the call-back
    # requests no longer pending. Outcomes, topics, queues and times stay, so the figures stay right.
    call_retention_days: int = 90
    step_retention_days: int = 90
    callback_retention_days: int = 30
    # Days a recording of a call with a consultant is kept: then `hotline recordings purge` (and `hotline
    # purge`) deletes its file and marks its row.
    recording_retention_days: int = 90
    # The recordings folder (recordings/ in Asterisk's monitor folder) as the hotline sees it; empty: the
    # sandbox instance's, or /var/spool/asterisk/monitor/recordings for an Asterisk of its own.
    recordings_dir: str = ""
    # Days Asterisk's own logs (security.log, messages.log, queue_log) are kept: `hotline purge` rotates them
    # and deletes the rotated files older than this (hotline/asterisk_logs.py).
    log_retention_days: int = 90
    # Asterisk's log folder as the hotline sees it; empty: the sandbox instance's, or /var/log/asterisk.
    asterisk_log_dir: str = ""
    # Hours the live state's stream (Redis) keeps the changes of calls.
    live_stream_hours: int = 24
    # A number the caller withheld (SIP "Privacy: id"): "record" keeps it in the call's record, never shown to
    # consultants; "drop" keeps nothing of it.
    withheld_numbers: str = "record"

    # Phone numbers without a country code are read as numbers of this region.
    default_region: str = "PL"
    timezone: str = "Europe/Warsaw"

    def __post_init__(self) -> None:
        if self.withheld_numbers not in WITHHELD_NUMBERS:
            raise ValueError(f"withheld_numbers must be one of {', '.join(WITHHELD_NUMBERS)}")
        for name in (
            "call_retention_days",
            "step_retention_days",
            "callback_retention_days",
            "recording_retention_days",
            "log_retention_days",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.live_stream_hours < 1:
            raise ValueError("live_stream_hours must be at least 1")
        if self.wait_announce_seconds < 0:
            raise ValueError("wait_announce_seconds may not be negative")
        if self.wait_default_handle_seconds <= 0:
            raise ValueError("wait_default_handle_seconds must be above 0")

    @property
    def keep_withheld_numbers(self) -> bool:
        return self.withheld_numbers == "record"

    @property
    def sqlite_path(self) -> Path:
        return self.state_dir / "hotline.sqlite3"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.sqlite_path}"

    @property
    def ami_listener_username(self) -> str:
        """The AMI listener's own user: it reads call events only and may send nothing (manager.conf)."""
        return f"{self.ami_username}-listener"

    @property
    def ami_config_username(self) -> str:
        """The user that reloads Asterisk's PJSIP module when consultants' phones change, and nothing else."""
        return f"{self.ami_username}-config"

    @property
    def fastagi_address(self) -> str:
        return f"{self.fastagi_host}:{self.fastagi_port}"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


WITHHELD_NUMBERS = ("record", "drop")
# Secrets generated on first run, and all secrets (the Redis password is never generated: see redis_password).
_GENERATED_SECRETS = ("ami_secret", "console_session_key")
_SECRET_FIELDS = (*_GENERATED_SECRETS, "redis_password")
# Who may read and write what the hotline keeps: its own user, and its group may read (0640 files, 0750
# folders); the state folder and the SQLite database are the user's alone (0700, 0600).
PRIVATE_UMASK = 0o027


def masked_url(url: str) -> str:
    """A URL as a log line may show it: its password (if any) as ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def redis_url_with_password(url: str, password: str) -> str:
    """``url`` with ``password`` in it, unless it carries one already (or there is none to add)."""
    parts = urlsplit(url)
    if not password or parts.password is not None:
        return url
    user = quote(unquote(parts.username or ""), safe="")
    netloc = f"{user}:{quote(password, safe='')}@{parts.netloc.rsplit('@', 1)[-1]}"
    return urlunsplit(parts._replace(netloc=netloc))


def prepare_state_dir(settings: Settings) -> Path:
    """The state folder, private to the hotline's user (0700): it holds the database file and the secrets."""
    path = settings.state_dir
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != 0o700:
        path.chmod(0o700)
    return path


def _coerce(kind: Any, value: Any) -> Any:
    if kind in (int, "int"):
        return int(value)
    if kind in (float, "float"):
        return float(value)
    if kind in (Path, "Path"):
        return Path(value)
    return str(value)


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings: defaults, then the TOML file, then ``HOTLINE_*`` variables, then ``overrides``."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    known = {f.name: f.type for f in fields(Settings)}

    state_dir = Path(env.get("HOTLINE_STATE_DIR", str(Settings.state_dir)))
    config_file = Path(env.get("HOTLINE_CONFIG", str(state_dir / "hotline.toml")))
    if config_file.is_file():
        with config_file.open("rb") as fh:
            for key, value in tomllib.load(fh).items():
                if key not in known:
                    raise ValueError(f"{config_file}: unknown setting {key!r}")
                if key in _SECRET_FIELDS:
                    raise ValueError(f"{config_file}: secret {key!r} belongs in the environment")
                values[key] = _coerce(known[key], value)
    for name, kind in known.items():
        env_name = f"HOTLINE_{name.upper()}"
        if env_name in env:
            values[name] = _coerce(kind, env[env_name])
    values.update(overrides)
    settings = Settings(**values)
    return settings.replace(redis_url=redis_url_with_password(settings.redis_url, settings.redis_password))


def read_stored_secrets(state_dir: Path) -> dict[str, str]:
    """The secrets kept in ``<state_dir>/secrets.toml`` (none when it does not exist)."""
    path = state_dir / "secrets.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return {k: str(v) for k, v in tomllib.load(fh).items()}


def ensure_secrets(settings: Settings) -> Settings:
    """Fill missing secrets from ``<state_dir>/secrets.toml``, generating that file on first run (the Redis
    password is read from it, never generated), and put the Redis password into ``redis_url``."""
    path = settings.state_dir / "secrets.toml"
    stored = read_stored_secrets(settings.state_dir)
    changed = False
    for name in _GENERATED_SECRETS:
        if not stored.get(name):
            stored[name] = secrets.token_urlsafe(24)
            changed = True
    if changed:
        prepare_state_dir(settings)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("# Generated by `hotline` on first run. Never commit this file.\n")
            for name, value in stored.items():
                fh.write(f"{name} = {json.dumps(value)}\n")
        os.replace(tmp, path)
    filled = {name: getattr(settings, name) or stored.get(name, "") for name in _SECRET_FIELDS}
    settings = settings.replace(**filled)
    return settings.replace(redis_url=redis_url_with_password(settings.redis_url, settings.redis_password))


def free_ports() -> dict[str, int]:
    """Free loopback ports for an instance of its own (end-to-end tests, benchmarks), so that it never
    disturbs a running hotline: settings fields ``sip_port`` (UDP), ``ami_port``, ``fastagi_port``,
    ``console_port``, ``audiosocket_port``."""

    def free(kind: int) -> int:
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    return {
        "sip_port": free(socket.SOCK_DGRAM),
        "ami_port": free(socket.SOCK_STREAM),
        "fastagi_port": free(socket.SOCK_STREAM),
        "audiosocket_port": free(socket.SOCK_STREAM),
        "console_port": free(socket.SOCK_STREAM),
    }
