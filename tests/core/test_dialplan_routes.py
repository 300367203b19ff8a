"""Every AGI path in the dialplans has a route, every route is used, and no catch-all dials caller input."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline.asterisk_config import (
    render_consultant_codes,
    render_queue_extensions,
    render_queue_rules,
    render_queues,
)
from hotline.outcomes import CallOutcome
from hotline.queues import Queues, QueuesError
from hotline.settings import PROJECT_ROOT
from ivr.routes import ROUTES
from tests.data import QUEUES

AGI_CALL = re.compile(r"AGI\(agi://\$\{HOTLINE_FASTAGI\}/([A-Za-z0-9_-]+)[^)]*\)")


def dialplan_text() -> str:
    return "\n".join(p.read_text() for p in sorted((PROJECT_ROOT / "dialplans").glob("*.conf")))


def test_every_agi_path_has_a_route_and_every_route_is_used() -> None:
    # The committed dialplans and the rendered ones (queues, consultants' codes, the call-back key).
    text = dialplan_text() + render_queue_extensions(QUEUES) + render_consultant_codes(QUEUES)
    used = set(AGI_CALL.findall(text))
    assert used, "no AGI() call found in dialplans/"
    assert used == set(ROUTES)


def test_agi_calls_use_the_configured_address_only() -> None:
    for line in dialplan_text().splitlines():
        if "AGI(" in line:
            assert AGI_CALL.search(line), f"AGI call not through ${{HOTLINE_FASTAGI}}: {line.strip()}"


def test_no_pattern_extension_and_no_dial_of_caller_input() -> None:
    for path in sorted((PROJECT_ROOT / "dialplans").glob("*.conf")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split(";", 1)[0]
            assert not re.search(r"exten\s*=>\s*_", code), f"{path.name}:{number}: pattern extension"
            assert "CALLERID" not in code.upper() or "Dial(" not in code, f"{path.name}:{number}"
            assert "${EXTEN}" not in code or "Dial(" not in code, f"{path.name}:{number}"


def test_queues_and_their_extensions_are_rendered_from_the_queues_file() -> None:
    queues_conf = render_queues(QUEUES)
    configured = set(re.findall(r"^\[([a-z_0-9-]+)\]\(topic-queue\)$", queues_conf, re.M))
    assert configured == {q.name for q in QUEUES.asterisk_queues()}
    assert configured == {f"{topic}-{lang}" for topic in QUEUES.names for lang in QUEUES.languages}
    extensions_conf = render_queue_extensions(QUEUES)
    extensions = set(
        re.findall(r"^exten\s*=>\s*([a-z_0-9]+),1,Set\(CDR\(hotline_queue\)=\1\)$", extensions_conf, re.M)
    )
    assert extensions == set(QUEUES.names)
    # Each topic's extension picks one of its own queues, by the channel's language, and nothing else.
    picked = set(re.findall(r"Set\(HOTLINE_ASTERISK_QUEUE=([a-z_0-9-]+)\)", extensions_conf))
    assert picked == configured
    # Queue() only of the queue picked above: a caller, one back after the call-back key, a call-back's
    # placeholder (the consultant hears the whisper); each recorded once a consultant answers (the gosub
    # hotline-record).
    position = "${FILTER(0-9,${HOTLINE_QUEUE_POSITION})}"
    assert re.findall(r"Queue\((.*)\)$", extensions_conf, re.M) == [
        # t: the consultant may transfer the caller (hotline/transfers.py); the caller may not (no T).
        "${HOTLINE_ASTERISK_QUEUE},t,,,,,hotline-record,hotline-widen",
        f"${{HOTLINE_ASTERISK_QUEUE}},t,,,,,hotline-record,hotline-widen,{position}",
        f"${{HOTLINE_ASTERISK_QUEUE}},t,,${{HOTLINE_WHISPER}},,,hotline-record,hotline-widen,{position}",
    ]
    assert QUEUES.default in QUEUES
    # The committed files name no queue of their own: the queues file is the one owner of the names.
    committed = (PROJECT_ROOT / "asterisk_conf" / "queues.conf").read_text()
    assert not any(f"[{name}" in committed for name in QUEUES.names)
    assert "Queue(" not in dialplan_text().replace("Queue(${", "")
    assert Path(PROJECT_ROOT / "asterisk_conf" / "modules.conf").read_text().count("autoload = no") == 1


def test_the_queue_rule_widens_in_the_steps_of_the_queues_file() -> None:
    rules = render_queue_rules(QUEUES)
    assert rules.splitlines()[0] == "[hotline-widen]"
    changes = re.findall(r"^penaltychange => (\d+),(\d+)$", rules, re.M)
    assert [(int(a), int(b)) for a, b in changes] == [(s.after, s.max_penalty) for s in QUEUES.routing[1:]]
    assert f"QUEUE_MAX_PENALTY={QUEUES.routing[0].max_penalty}" in render_queue_extensions(QUEUES)


def test_consultants_phones_reach_the_feature_codes_only() -> None:
    codes = render_consultant_codes(QUEUES)
    dialled = re.findall(
        r"^exten => ([^,]+),1,Gosub\(hotline-consultant-code,s,1\(([a-z]+),([a-z_]*)\)\)$", codes, re.M
    )
    assert {code for code, _, _ in dialled} >= {"*1", "*2", "*4", "*31"}
    assert len(dialled) == len(codes.strip().splitlines()) - 1
    assert {reason for code, action, reason in dialled if action == "pause"} == {
        r.name for r in QUEUES.pause_reasons.values() if r.code is not None
    }
    consultants = (PROJECT_ROOT / "dialplans" / "consultants.conf").read_text()
    code_lines = [line.split(";", 1)[0] for line in consultants.splitlines()]
    assert not any("Dial(" in line or "Goto(" in line or "Queue(" in line for line in code_lines)


def test_a_description_cannot_break_out_of_its_comment() -> None:
    data = yaml.safe_load((PROJECT_ROOT / "hotline" / "queues.yaml").read_text())
    data["queues"] = {"a": {"description": "x\n[evil]\nexten => 1,1,System(id)"}}
    data["default"] = "a"
    hostile = Queues.from_data(data)
    lines = render_queues(hostile).splitlines()
    assert [line for line in lines if line.startswith("[")] == [
        f"[a-{lang}](topic-queue)" for lang in hostile.languages
    ]


def test_every_outcome_the_dialplan_sets_is_a_call_outcome() -> None:
    literals = set(re.findall(r"HOTLINE_OUTCOME=([a-z_]+)", dialplan_text()))
    assert literals, "the dialplan sets no outcome"
    assert literals <= {outcome.value for outcome in CallOutcome}


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "hotline" / "queues.yaml").read_text())
    return data


@pytest.mark.parametrize(
    "change",
    [
        {"default": "nope"},
        {"queues": {"A-b": {}}},
        {"queues": {}},
        {"version": 1},
        {"queues": {"consultant": {"members": []}}},
        {"languages": ["pl", "pl"]},
        {"languages": ["polish"]},
        {"routing": [{"after": 5, "reach": "topic"}]},
        {"routing": [{"after": 0, "reach": "topic"}, {"after": 0, "reach": "anyone"}]},
        {"routing": [{"after": 0, "reach": "anyone"}, {"after": 10, "reach": "topic"}]},
        {"routing": [{"after": 0, "reach": "everyone"}]},
        {"ring_seconds": 0},
        {"wrapup_seconds": "15"},
        {"pause_reasons": {"break": {"code": 1, "label": "Przerwa"}}},
        {"pause_reasons": {"no_answer": {"code": 1, "label": "x"}}},
        {
            "pause_reasons": {
                "a": {"code": 1, "label": "A"},
                "b": {"code": 1, "label": "B"},
                "no_answer": {"label": "x"},
            }
        },
        {"pause_reasons": {"a": {"code": 10, "label": "A"}, "no_answer": {"label": "x"}}},
    ],
)
def test_a_broken_queues_file_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(QueuesError):
        Queues.from_data(shipped() | change)


def test_a_queues_file_that_is_no_mapping_is_refused() -> None:
    with pytest.raises(QueuesError):
        Queues.from_data(["a"])


def test_ecam_configured_with_its_own_number_is_that_number_for_the_menu_too() -> None:
    """Menu option 6 (the topic ecam): a queue of ECAM's consultants, or, with ``ecam_external_number``, that
    fixed number over the trunk (the transfers' external context); every other topic stays a queue."""
    plain = render_queue_extensions(QUEUES)
    external = render_queue_extensions(QUEUES, ecam_number="+48225550100")
    ecam = re.search(r"^exten => ecam,1,.*?(?=^exten|\Z)", external, re.M | re.S)
    assert ecam is not None
    assert "Set(_HOTLINE_OUTBOUND_NUMBER=+48225550100)" in ecam.group(0)
    assert "Goto(hotline-transfer-external,s,1)" in ecam.group(0) and "ecam-pl" not in ecam.group(0)
    assert "HOTLINE_ASTERISK_QUEUE=ecam-pl" in plain
    for topic in QUEUES.names - {"ecam"}:
        assert f"HOTLINE_ASTERISK_QUEUE={topic}-pl" in external


def test_the_listener_knows_every_context_where_a_caller_waits() -> None:
    """A call the AMI listener did not see entering (it was down) is recorded from its hang-up, in whichever
    of the callers' contexts it ends: every rendered context with a caller's Queue() is one of them."""
    from ami_listener.listener import HOTLINE_CONTEXTS

    rendered = render_queue_extensions(QUEUES)
    waiting = {
        name
        for name, body in re.findall(r"^\[([a-z-]+)\]\n(.*?)(?=^\[|\Z)", rendered, re.M | re.S)
        if "Queue(" in body
    }
    assert waiting - {"hotline-callback-hold"} <= HOTLINE_CONTEXTS  # the placeholder is no caller
    assert {"hotline-queues", "hotline-queue-wait", "hotline-queue-keys"} <= HOTLINE_CONTEXTS


def test_a_call_back_is_recorded_transferable_and_the_caller_hears_the_notice() -> None:
    """The placeholder's queue half leaves the consultant's channel what a caller's wait does (the recording's
    call and queue, the caller for a transfer's card, the transfer context); the caller called back hears
    the notice when they answer, from a path only the services set."""
    rendered = render_queue_extensions(QUEUES)
    contexts = dict(re.findall(r"^\[([a-z-]+)\]\n(.*?)(?=^\[|^;|\Z)", rendered, re.M | re.S))

    def inherited(body: str) -> list[str]:
        return re.findall(r"^ same => n,(.*(?:__HOTLINE_|TRANSFER_CONTEXT).*)$", body, re.M)

    caller, placeholder = (
        inherited(contexts["hotline-queue-wait"]),
        inherited(contexts["hotline-callback-hold"]),
    )
    assert caller == placeholder and len(caller) == 6
    assert "Set(__TRANSFER_CONTEXT=hotline-transfer)" in placeholder
    # The notice: played to the caller once they answered (Dial's U runs on the called side), from the path
    # the services set; without one, no option at all.
    connect = contexts["hotline-callback-connect"]
    options = '${IF($["${HOTLINE_NOTICE}" != ""]?U(hotline-callback-notice^${HOTLINE_NOTICE}))}'
    assert f"Set(HOTLINE_DIAL_OPTIONS={options})" in connect
    ring = "${FILTER(0-9,${HOTLINE_CALLBACK_RING})}"
    assert f"Dial(Local/s@hotline-outbound/n,{ring},${{HOTLINE_DIAL_OPTIONS}})" in connect
    notice = (PROJECT_ROOT / "dialplans" / "recordings.conf").read_text()
    assert "[hotline-callback-notice]\nexten => s,1,Playback(${ARG1})\n same => n,Return()\n" in notice
