"""Carrier trunks as data: validation (a bad setting stops the start with a clear message), passwords from the
environment or secrets.toml only, what Asterisk is given, the outbound Originate, and that nothing reachable
from outside can reach the outbound context."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from hotline.asterisk_config import render_outbound, render_trunks, write_config, write_production_config
from hotline.callbacks import CONNECT_CONTEXT, HOLD_CONTEXT
from hotline.settings import ensure_secrets, load_settings
from hotline.transfers import TRANSFER_CONTEXT
from hotline.trunks import (
    OUTBOUND_CONTEXT,
    OUTBOUND_NUMBER_VARIABLE,
    NotDialable,
    Trunks,
    TrunksError,
    load_trunks,
    outbound_originate,
)
from launcher import cli
from launcher.runner import Hotline
from tests.data import QUEUES

EXTERNAL_TRANSFER_CONTEXT = "hotline-transfer-external"


def trunk(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "match": ["192.0.2.10", "198.51.100.0/28"],
        "host": "sip.carrier.example:5060",
        "caller_id": "+48221234567",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def data(*trunks: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {"version": 1, "trunks": dict(trunks), **top}


REGISTERING = trunk(registration={"username": "48221234567"})


def test_the_committed_file_has_no_trunks_and_loads() -> None:
    trunks = load_trunks(load_settings({}), environ={})
    assert len(trunks) == 0
    assert trunks.outbound_trunk is None


def test_a_trunk_by_address_with_its_defaults() -> None:
    trunks = Trunks.from_data(data(("carrier", trunk())))
    carrier = trunks.by_name["carrier"]
    assert carrier.match == ("192.0.2.10/32", "198.51.100.0/28")
    assert carrier.codecs == ("alaw", "ulaw")
    assert carrier.registration is None
    assert carrier.endpoint == "trunk-carrier"
    assert trunks.outbound == "carrier"  # the only trunk carries the outbound calls


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (trunk(match=None), "'match' is required"),
        (trunk(match=[]), "'match' must list"),
        (trunk(match=["carrier.example"]), "not an IP address or network"),
        (trunk(match=["0.0.0.0/0"]), "from anywhere"),
        (trunk(match=["127.0.0.0/8"]), "loopback test trunk"),
        (trunk(host="sip carrier"), "'host'"),
        (trunk(host="carrier.example:70000"), "port must be 1-65535"),
        (trunk(outbound_proxy="proxy;lr"), "'outbound_proxy'"),
        (trunk(caller_id="19524;x"), "'caller_id'"),
        (trunk(caller_name="Zielona, Linia"), "'caller_name'"),
        (trunk(codecs=["opus"]), "'codecs' must list some of alaw, gsm, ulaw"),
        (trunk(codecs=["alaw", "alaw"]), "twice"),
        (trunk(secret="x"), "unknown keys secret"),
        (trunk(registration={"username": "u", "password": "p"}), "the password belongs in the environment"),
        (trunk(registration={}), "'username' is required"),
        (trunk(registration={"username": "u", "expiration": 5}), "'expiration'"),
        (REGISTERING, "no password: set HOTLINE_TRUNK_CARRIER_PASSWORD"),
    ],
)
def test_a_bad_trunk_setting_is_a_clear_error(body: dict[str, Any], message: str) -> None:
    with pytest.raises(TrunksError, match=re.escape(message)) as error:
        Trunks.from_data(data(("carrier", body)), origin="trunks.yaml")
    assert "trunk 'carrier'" in str(error.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": 2, "trunks": {}}, "version 2"),
        ({"trunks": {}}, "expected a mapping"),
        (data(("Carrier-1", trunk())), "trunk name 'Carrier-1'"),
        (data(("a", trunk()), ("b", trunk(match=["198.51.100.4"]))), "trunks 'a' and 'b' both match"),
        (data(("a", trunk()), ("b", trunk(match=["203.0.113.1"]))), "'outbound' must name"),
        (data(("a", trunk()), outbound="b"), "'outbound' names 'b'"),
    ],
)
def test_a_bad_trunks_file_is_a_clear_error(document: dict[str, Any], message: str) -> None:
    with pytest.raises(TrunksError, match=re.escape(message)):
        Trunks.from_data(document)


@pytest.mark.parametrize("password", ["with space", "semi;colon", "line\nbreak", "zażółć"])
def test_a_password_asterisk_could_misread_is_refused(password: str) -> None:
    with pytest.raises(TrunksError, match="printable ASCII"):
        Trunks.from_data(data(("carrier", REGISTERING)), {"carrier": password})


def test_passwords_come_from_the_environment_before_secrets_toml(tmp_path: Path) -> None:
    file = tmp_path / "trunks.yaml"
    file.write_text(
        "version: 1\ntrunks:\n  carrier:\n    match: 192.0.2.10\n    host: 192.0.2.10\n"
        "    caller_id: '+48221234567'\n    registration: {username: hotline}\n"
        "  backup:\n    match: 192.0.2.20\n    host: 192.0.2.20\n    caller_id: '+48221234567'\n"
        "    registration: {username: hotline}\noutbound: carrier\n"
    )
    (tmp_path / "secrets.toml").write_text(
        'trunk_carrier_password = "from-file"\ntrunk_backup_password = "backup-file"\n'
    )
    settings = load_settings({"HOTLINE_STATE_DIR": str(tmp_path)}, trunks_file=file)
    trunks = load_trunks(settings, environ={"HOTLINE_TRUNK_CARRIER_PASSWORD": "from-env"})
    carrier = trunks.by_name["carrier"].registration
    backup = trunks.by_name["backup"].registration
    assert carrier is not None and carrier.password == "from-env"
    assert backup is not None and backup.password == "backup-file"
    # A password is never shown where the settings are.
    assert "from-env" not in repr(trunks)


def test_a_trunk_is_rendered_as_an_identified_endpoint_with_its_registration() -> None:
    trunks = Trunks.from_data(
        data(("carrier", trunk(registration={"username": "48221234567"}, outbound_proxy="192.0.2.30"))),
        {"carrier": "s3cret!"},
    )
    conf = render_trunks(trunks)
    sections = sections_of(conf)
    endpoint = sections[("trunk-carrier", "(hotline-endpoint)")]
    assert "disallow = all" in endpoint and "allow = alaw,ulaw" in endpoint
    assert "outbound_auth = trunk-carrier-auth" in endpoint
    assert "outbound_proxy = sip:192.0.2.30\\;lr" in endpoint
    # Inbound: by the carrier's addresses only, and no inbound credentials that a stranger could try.
    assert "match = 192.0.2.10/32,198.51.100.0/28" in conf
    assert "auth = " not in "\n".join(line for line in endpoint.splitlines() if line.startswith("auth "))
    assert "password = s3cret!" in sections[("trunk-carrier-auth", "")]
    registration = sections[("trunk-carrier-registration", "")]
    assert "server_uri = sip:sip.carrier.example:5060" in registration
    assert "client_uri = sip:48221234567@sip.carrier.example:5060" in registration
    assert "contact_user = 19524" in registration


def test_without_trunks_nothing_is_dialled_out() -> None:
    empty = Trunks(by_name={})
    assert "[" not in render_trunks(empty)
    outbound = render_outbound(empty)
    assert "Dial(" not in outbound and "Hangup()" in outbound


def test_outbound_originate_sends_an_e164_number_to_the_outbound_context() -> None:
    action = outbound_originate("600 123 456", context="hotline-callback", exten="s", channel_id="cb-1")
    assert action.channel == f"Local/s@{OUTBOUND_CONTEXT}"
    assert action.variables[OUTBOUND_NUMBER_VARIABLE] == "+48600123456"
    assert action.headers()["Context"] == "hotline-callback"
    assert outbound_originate("0038 067 123 4567", context="x").variables[OUTBOUND_NUMBER_VARIABLE] == (
        "+380671234567"
    )


@pytest.mark.parametrize("number", ["", "112", "600123456,1", "anonymous", "+48600123456\nAction: Command"])
def test_outbound_originate_refuses_what_is_no_phone_number(number: str) -> None:
    with pytest.raises(NotDialable):
        outbound_originate(number, context="hotline-callback")


def test_the_outbound_context_filters_the_number_again_and_presents_the_caller_id() -> None:
    trunks = Trunks.from_data(data(("carrier", trunk(caller_name="Zielona Linia"))))
    lines = render_outbound(trunks).splitlines()
    dial = next(i for i, line in enumerate(lines) if "Dial(" in line)
    check = next(i for i, line in enumerate(lines) if "REGEX(" in line)
    assert check < dial
    assert f"FILTER(0-9+,${{{OUTBOUND_NUMBER_VARIABLE}}})" in lines[check - 1]
    assert "Set(CALLERID(num)=+48221234567)" in lines[check + 1]
    assert "Set(CALLERID(name)=Zielona Linia)" in lines[check + 2]
    assert lines[dial].endswith("Dial(PJSIP/${NUMBER}@trunk-carrier)")


# --- Nothing reachable from outside dials out ---------------------------------------------------------------

CONTEXT = re.compile(r"^\[([A-Za-z0-9_-]+)\]")
# What dials a SIP peer: a PJSIP channel with an endpoint after "@" (a number over a trunk).
DIALS_A_TRUNK = re.compile(r"PJSIP/[^,)]*@", re.I)


def sections_of(conf: str) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    current: tuple[str, str] | None = None
    for line in conf.splitlines():
        match = re.match(r"^\[([^\]]+)\](\([^)]*\))?", line)
        if match:
            current = (match.group(1), match.group(2) or "")
            found[current] = ""
        elif current is not None:
            found[current] += line + "\n"
    return found


def dialplan_contexts(etc: Path) -> dict[str, str]:
    """Every context of the dialplan Asterisk is given, by name (a context split over files joined)."""
    contexts: dict[str, str] = {}
    files = [*sorted(etc.glob("extensions*.conf")), *sorted((etc / "dialplans").glob("*.conf"))]
    for path in files:
        current = None
        for line in path.read_text().splitlines():
            line = line.split(";", 1)[0]
            match = CONTEXT.match(line)
            if match:
                current = match.group(1)
                contexts.setdefault(current, "")
            elif current is not None:
                contexts[current] += line + "\n"
    return contexts


@pytest.fixture
def configured(tmp_path: Path) -> dict[str, str]:
    """The dialplan of an instance with a carrier trunk and every extra dialplan included."""
    settings = ensure_secrets(
        load_settings({"HOTLINE_STATE_DIR": str(tmp_path / "state")}, extra_dialplans="bench.conf")
    )
    trunks = Trunks.from_data(data(("carrier", REGISTERING)), {"carrier": "pw"})
    etc = tmp_path / "etc"
    write_config(settings, QUEUES, etc, asterisk_conf="", moh_dir="/moh", trunks=trunks)
    return dialplan_contexts(etc)


def test_no_context_but_the_outbound_one_dials_a_trunk(configured: dict[str, str]) -> None:
    assert DIALS_A_TRUNK.search(configured[OUTBOUND_CONTEXT])
    dialling = sorted(name for name, body in configured.items() if DIALS_A_TRUNK.search(body))
    assert dialling == [OUTBOUND_CONTEXT]


def test_no_context_includes_or_goes_to_the_outbound_one(configured: dict[str, str]) -> None:
    """Only the call-back's connecting half dials out (Local/s@hotline-outbound), and it is itself reached
    only by the services' Originate of a placeholder: no context names it or the placeholder's context."""
    assert "hotline" in configured
    naming = sorted(name for name, body in configured.items() if OUTBOUND_CONTEXT in body)
    assert naming == [CONNECT_CONTEXT, EXTERNAL_TRANSFER_CONTEXT], (
        f"{naming} name {OUTBOUND_CONTEXT} (include, Goto, Gosub or a Local channel)"
    )
    for services_only in (CONNECT_CONTEXT, HOLD_CONTEXT):
        assert services_only in configured
        assert [name for name, body in configured.items() if services_only in body] == []
    assert not re.search(r"^\s*include\s*=>", configured["hotline"], re.M)
    # An external transfer (hotline/transfers.py) is reached only from the transfer targets' context, which
    # only the consultant's transfer feature (TRANSFER_CONTEXT, given by a caller's or a call-back's wait in a
    # queue) and the services' AMI name.
    transfer = re.compile(rf"\b{TRANSFER_CONTEXT}(?![-\w])")
    assert [n for n, b in configured.items() if EXTERNAL_TRANSFER_CONTEXT in b] == [TRANSFER_CONTEXT]
    giving = sorted(n for n, b in configured.items() if transfer.search(b))
    assert giving == [HOLD_CONTEXT, "hotline-queue-wait"]


# --- Start-up -------------------------------------------------------------------------------------------


def bad_trunks_file(tmp_path: Path) -> Path:
    file = tmp_path / "trunks.yaml"
    file.write_text("version: 1\ntrunks:\n  carrier:\n    match: everyone\n    host: x\n    caller_id: '1'\n")
    return file


async def test_a_bad_trunk_setting_stops_the_hotline_before_anything_starts(tmp_path: Path) -> None:
    settings = load_settings({"HOTLINE_STATE_DIR": str(tmp_path)}, trunks_file=bad_trunks_file(tmp_path))
    hotline = Hotline(settings, with_console=False)
    with pytest.raises(TrunksError, match="'everyone' is not an IP address"):
        await hotline.start()
    assert hotline.asterisk is None and hotline.agi is None


@pytest.mark.parametrize("command", [["up"], ["asterisk-config", "--etc", "etc", "--sounds", "sounds"]])
def test_the_command_reports_a_bad_trunk_setting_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_TRUNKS_FILE", str(bad_trunks_file(tmp_path)))
    monkeypatch.chdir(tmp_path)
    assert cli.main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("bad trunk settings: ") and "'everyone'" in err
    assert not (tmp_path / "etc").exists()


def test_production_configuration_carries_the_trunks_readable_by_asterisk_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "trunks.yaml"
    file.write_text(
        "version: 1\ntrunks:\n  carrier:\n    match: 192.0.2.10\n    host: 192.0.2.10\n"
        "    caller_id: '+48221234567'\n    registration: {username: hotline}\n"
    )
    monkeypatch.setenv("HOTLINE_TRUNK_CARRIER_PASSWORD", "pw-from-env")
    settings = ensure_secrets(load_settings({"HOTLINE_STATE_DIR": str(tmp_path / "state")}, trunks_file=file))
    etc = tmp_path / "etc"
    write_production_config(settings, QUEUES, etc, tmp_path / "sounds", None, group=os.getgid())
    trunks_conf = etc / "pjsip_trunks.conf"
    assert "[trunk-carrier](hotline-endpoint)" in trunks_conf.read_text()
    assert "password = pw-from-env" in trunks_conf.read_text()
    assert trunks_conf.stat().st_mode & 0o777 == 0o640
    assert '#include "pjsip_trunks.conf"' in (etc / "pjsip.conf").read_text()
    assert "Dial(PJSIP/${NUMBER}@trunk-carrier)" in (etc / "extensions_outbound.conf").read_text()
    assert '#include "extensions_outbound.conf"' in (etc / "extensions.conf").read_text()
