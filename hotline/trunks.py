"""Carrier trunks, as data (``hotline/trunks.yaml``, settings ``trunks_file``): the SIP peers that bring
callers to 19524 and carry the hotline's own calls out (callbacks, external transfers).

Per trunk: the carrier's addresses or networks (inbound calls are taken only from them: PJSIP ``identify``
by source address, never by a name in the request), the outbound target (``host[:port]``, an optional
outbound proxy), the caller ID presented on outbound calls, the codecs allowed, and optionally a
registration with credentials. A password never comes from the file: it comes from the environment
(``HOTLINE_TRUNK_<NAME>_PASSWORD``) or from the generated ``<state_dir>/secrets.toml``
(``trunk_<name>_password``).

:mod:`hotline.asterisk_config` renders the trunks into ``pjsip_trunks.conf`` and the dialplan's
``[hotline-outbound]``, which only Python reaches, by AMI ``Originate`` (:func:`outbound_originate`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hotline.ami import actions
from hotline.datafiles import read_data_file
from hotline.phone import parse_dialable
from hotline.settings import Settings, read_stored_secrets

TRUNKS_VERSION = 1
# A trunk's name is part of Asterisk section names (trunk-<name>) and of an environment variable's name.
TRUNK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
# Asterisk's sections of a trunk are prefixed, so that no trunk can take the name of another endpoint
# (the loopback test trunk, the consultants' phones).
SECTION_PREFIX = "trunk-"
# The dialplan context that dials out; only AMI Originate (Local/s@hotline-outbound) reaches it.
OUTBOUND_CONTEXT = "hotline-outbound"
# The channel variable that carries the number to dial (E.164) into the outbound context.
OUTBOUND_NUMBER_VARIABLE = "HOTLINE_OUTBOUND_NUMBER"
# Codecs this Asterisk can transcode (modules.conf loads their translators).
# The address of the loopback test trunk (asterisk_conf/pjsip.conf): no carrier may claim it.
LOOPBACK_TRUNK = ipaddress.ip_address("127.0.0.1")
CODECS = frozenset({"alaw", "ulaw", "gsm"})
HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?$")
CALLER_ID = re.compile(r"^\+?[0-9]{3,15}$")
CALLER_NAME = re.compile(r"^[\w .-]{0,40}$")
USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")
# What a password may hold: printable ASCII without spaces and without ";" (Asterisk's comment sign).
PASSWORD = re.compile(r"^[!-:<-~]{1,128}$")
FILE_KEYS = frozenset({"version", "trunks", "outbound"})
KEYS = frozenset({"match", "host", "outbound_proxy", "caller_id", "caller_name", "codecs", "registration"})
REGISTRATION_KEYS = frozenset({"username", "server", "expiration"})


class TrunksError(Exception):
    """The trunks' settings are invalid: start-up stops with this message."""


class NotDialable(ValueError):
    """A number to call out is not a valid phone number, or no trunk carries outbound calls."""


@dataclass(frozen=True)
class Registration:
    """The hotline registers to the carrier (its registrar) with these credentials."""

    server: str  # host[:port]
    username: str
    password: str = field(repr=False)
    expiration: int = 300


@dataclass(frozen=True)
class Trunk:
    name: str
    # The carrier's addresses and networks: calls are accepted from these only.
    match: tuple[str, ...]
    # Where the hotline's calls go (host[:port]), optionally through an outbound proxy.
    host: str
    caller_id: str
    caller_name: str = "Zielona Linia 19524"
    codecs: tuple[str, ...] = ("alaw", "ulaw")
    outbound_proxy: str | None = None
    registration: Registration | None = None

    @property
    def endpoint(self) -> str:
        """The PJSIP endpoint (and AOR, identify) section of this trunk."""
        return f"{SECTION_PREFIX}{self.name}"

    @property
    def password_variable(self) -> str:
        return password_variable(self.name)


@dataclass(frozen=True)
class Trunks:
    by_name: Mapping[str, Trunk]
    # The trunk that carries the hotline's outbound calls (None: no outbound calls).
    outbound: str | None = None

    def __iter__(self) -> Iterator[Trunk]:
        return iter(self.by_name.values())

    def __len__(self) -> int:
        return len(self.by_name)

    @property
    def outbound_trunk(self) -> Trunk | None:
        return None if self.outbound is None else self.by_name[self.outbound]

    @classmethod
    def from_data(
        cls, data: Any, passwords: Mapping[str, str] | None = None, *, origin: str = "trunks"
    ) -> Trunks:
        """Validate the file's data; ``passwords`` by trunk name (see :func:`trunk_passwords`)."""
        passwords = passwords or {}
        if not isinstance(data, dict) or not {"version", "trunks"} <= set(data) <= FILE_KEYS:
            raise TrunksError(
                f"{origin}: expected a mapping with 'version', 'trunks' and optionally 'outbound'"
            )
        if data["version"] != TRUNKS_VERSION:
            raise TrunksError(f"{origin}: version {data['version']!r} is not {TRUNKS_VERSION}")
        raw = data["trunks"] or {}
        if not isinstance(raw, dict):
            raise TrunksError(f"{origin}: 'trunks' must be a mapping of trunk names")
        trunks: dict[str, Trunk] = {}
        for name, body in raw.items():
            if not isinstance(name, str) or not TRUNK_NAME.fullmatch(name):
                raise TrunksError(
                    f"{origin}: trunk name {name!r} must be lower case letters, digits and underscores"
                )
            trunks[name] = _trunk(name, body, passwords.get(name), f"{origin}: trunk {name!r}")
        _check_disjoint(trunks, origin)
        outbound = data.get("outbound")
        if outbound is None and len(trunks) == 1:
            outbound = next(iter(trunks))
        if outbound is None and len(trunks) > 1:
            raise TrunksError(
                f"{origin}: with several trunks, 'outbound' must name the one for outbound calls"
            )
        if outbound is not None and outbound not in trunks:
            raise TrunksError(f"{origin}: 'outbound' names {outbound!r}, which is not one of the trunks")
        return cls(by_name=MappingProxyType(trunks), outbound=outbound)

    @classmethod
    def load(cls, path: Path, passwords: Mapping[str, str] | None = None) -> Trunks:
        return cls.from_data(read_data_file(path, TrunksError), passwords, origin=str(path))


def password_variable(name: str) -> str:
    """The environment variable holding trunk ``name``'s registration password."""
    return f"HOTLINE_TRUNK_{name.upper()}_PASSWORD"


def trunk_passwords(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Registration passwords by trunk name: ``HOTLINE_TRUNK_<NAME>_PASSWORD`` from the environment, else
    ``trunk_<name>_password`` from ``<state_dir>/secrets.toml``."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for key, value in read_stored_secrets(settings.state_dir).items():
        match = re.fullmatch(r"trunk_([a-z][a-z0-9_]{0,30})_password", key)
        if match:
            found[match.group(1)] = value
    for key, value in env.items():
        match = re.fullmatch(r"HOTLINE_TRUNK_([A-Z][A-Z0-9_]{0,30})_PASSWORD", key)
        if match:
            found[match.group(1).lower()] = value
    return found


def load_trunks(settings: Settings, environ: Mapping[str, str] | None = None) -> Trunks:
    """The trunks of ``settings.trunks_file`` with their passwords; raises :class:`TrunksError`."""
    return Trunks.load(settings.trunks_file, trunk_passwords(settings, environ))


def outbound_originate(
    number: str,
    *,
    context: str,
    exten: str = "s",
    priority: int = 1,
    region: str = "PL",
    channel_id: str | None = None,
    timeout_s: float = 45.0,
    variables: Mapping[str, str] | None = None,
) -> actions.Originate:
    """Call ``number`` out over the outbound trunk; once the called person answers, the hotline's side runs
    ``context,exten,priority`` (e.g. a consultant's bridge).

    The number is checked here (a valid phone number, sent as E.164) and filtered again by the dialplan
    (``[hotline-outbound]``), which presents the trunk's configured caller ID; raises :class:`NotDialable`."""
    dialable = parse_dialable(number, region)
    if dialable is None:
        raise NotDialable("not a valid phone number to call")
    return actions.Originate(
        channel=f"Local/s@{OUTBOUND_CONTEXT}",
        context=context,
        exten=exten,
        priority=priority,
        channel_id=channel_id,
        timeout_ms=int(timeout_s * 1000),
        variables={**(variables or {}), OUTBOUND_NUMBER_VARIABLE: dialable.e164},
    )


# --- Validation ---------------------------------------------------------------------------------------------


def _trunk(name: str, body: Any, password: str | None, where: str) -> Trunk:
    if not isinstance(body, dict):
        raise TrunksError(f"{where}: expected a mapping")
    unknown = set(body) - KEYS
    if unknown:
        raise TrunksError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    for key in ("match", "host", "caller_id"):
        if key not in body:
            raise TrunksError(f"{where}: {key!r} is required")
    match = body["match"]
    if isinstance(match, str):
        match = [match]
    if not isinstance(match, list) or not match:
        raise TrunksError(f"{where}: 'match' must list the carrier's addresses or networks")
    networks = []
    for item in match:
        try:
            network = ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            raise TrunksError(
                f"{where}: 'match' entry {item!r} is not an IP address or network (e.g. 192.0.2.10, "
                "198.51.100.0/24)"
            ) from None
        if network.prefixlen == 0:
            raise TrunksError(f"{where}: 'match' entry {item!r} would accept calls from anywhere")
        if LOOPBACK_TRUNK in network:
            raise TrunksError(
                f"{where}: 'match' entry {item!r} holds {LOOPBACK_TRUNK}, the loopback test trunk's"
            )
        networks.append(str(network))
    host = _host(body["host"], f"{where}: 'host'")
    proxy = (
        None
        if body.get("outbound_proxy") is None
        else _host(body["outbound_proxy"], f"{where}: 'outbound_proxy'")
    )
    caller_id = str(body["caller_id"])
    if not CALLER_ID.fullmatch(caller_id):
        raise TrunksError(
            f"{where}: 'caller_id' {caller_id!r} must be the hotline's number, digits (+ first)"
        )
    caller_name = body.get("caller_name", Trunk.caller_name)
    if not isinstance(caller_name, str) or not CALLER_NAME.fullmatch(caller_name):
        raise TrunksError(f"{where}: 'caller_name' must be up to 40 letters, digits, spaces, dots or dashes")
    codecs = body.get("codecs", list(Trunk.codecs))
    if not isinstance(codecs, list) or not codecs or any(c not in CODECS for c in codecs):
        raise TrunksError(f"{where}: 'codecs' must list some of {', '.join(sorted(CODECS))}")
    if len(set(codecs)) != len(codecs):
        raise TrunksError(f"{where}: 'codecs' lists a codec twice")
    registration = None
    if body.get("registration") is not None:
        registration = _registration(name, body["registration"], host, password, f"{where}: 'registration'")
    return Trunk(
        name=name,
        match=tuple(networks),
        host=host,
        caller_id=caller_id,
        caller_name=caller_name,
        codecs=tuple(codecs),
        outbound_proxy=proxy,
        registration=registration,
    )


def _host(value: Any, where: str) -> str:
    text = str(value)
    if not HOST.fullmatch(text):
        raise TrunksError(f"{where} {text!r} must be a host name or address, with an optional :port")
    if ":" in text and not 0 < int(text.rsplit(":", 1)[1]) < 65536:
        raise TrunksError(f"{where} {text!r}: the port must be 1-65535")
    return text


def _registration(name: str, body: Any, host: str, password: str | None, where: str) -> Registration:
    if not isinstance(body, dict):
        raise TrunksError(f"{where}: expected a mapping")
    unknown = set(body) - REGISTRATION_KEYS
    if unknown:
        hint = " (the password belongs in the environment)" if "password" in unknown else ""
        raise TrunksError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}{hint}")
    username = str(body.get("username", ""))
    if not USERNAME.fullmatch(username):
        raise TrunksError(f"{where}: 'username' is required: letters, digits and . _ @ + -")
    server = host if body.get("server") is None else _host(body["server"], f"{where}: 'server'")
    expiration = body.get("expiration", Registration.expiration)
    if not isinstance(expiration, int) or not 60 <= expiration <= 86400:
        raise TrunksError(f"{where}: 'expiration' must be 60-86400 seconds")
    if not password:
        raise TrunksError(
            f"{where}: no password: set {password_variable(name)} in the environment "
            f"(or trunk_{name}_password in the state folder's secrets.toml)"
        )
    if not PASSWORD.fullmatch(password):
        raise TrunksError(
            f"{where}: the password in {password_variable(name)} must be printable ASCII, no spaces or ';'"
        )
    return Registration(server=server, username=username, password=password, expiration=expiration)


def _check_disjoint(trunks: Mapping[str, Trunk], origin: str) -> None:
    """One source address belongs to one trunk at most: otherwise which trunk a call came in on is a guess."""
    seen: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = []
    for trunk in trunks.values():
        for item in trunk.match:
            network = ipaddress.ip_network(item)
            for other, known in seen:
                if network.version == known.version and network.overlaps(known):
                    raise TrunksError(f"{origin}: trunks {other!r} and {trunk.name!r} both match {network}")
            seen.append((trunk.name, network))
