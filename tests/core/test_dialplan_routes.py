"""Every AGI path in the dialplans has a route, every route is used, and no catch-all dials caller input."""

import re
from pathlib import Path

import pytest

from hotline.asterisk_config import render_queue_extensions, render_queues
from hotline.outcomes import CallOutcome
from hotline.queues import Queues, QueuesError
from hotline.settings import PROJECT_ROOT
from ivr.routes import ROUTES
from tests.data import QUEUES

AGI_CALL = re.compile(r"AGI\(agi://\$\{HOTLINE_FASTAGI\}/([A-Za-z0-9_-]+)[^)]*\)")


def dialplan_text() -> str:
    return "\n".join(p.read_text() for p in sorted((PROJECT_ROOT / "dialplans").glob("*.conf")))


def test_every_agi_path_has_a_route_and_every_route_is_used() -> None:
    text = dialplan_text()
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
    configured = {m.group(1) for m in re.finditer(r"^\[([a-z_0-9]+)\]\(topic-queue\)$", queues_conf, re.M)}
    extensions_conf = render_queue_extensions(QUEUES)
    extensions = set(
        re.findall(r"^exten\s*=>\s*([a-z_0-9]+),1,Set\(CDR\(hotline_queue\)=\1\)$", extensions_conf, re.M)
    )
    assert set(re.findall(r"^ same => n,Queue\(([a-z_0-9]+)\)$", extensions_conf, re.M)) == extensions
    assert configured == extensions == set(QUEUES.names)
    assert QUEUES.default in QUEUES
    # The committed files name no queue of their own: the queues file is the one owner of the names.
    committed = (PROJECT_ROOT / "asterisk_conf" / "queues.conf").read_text()
    assert not any(f"[{name}]" in committed for name in QUEUES.names)
    assert "Queue(" not in dialplan_text().replace("Queue(${", "")
    assert Path(PROJECT_ROOT / "asterisk_conf" / "modules.conf").read_text().count("autoload = no") == 1


def test_a_description_cannot_break_out_of_its_comment() -> None:
    hostile = Queues.from_data(
        {"version": 1, "default": "a", "queues": {"a": {"description": "x\n[evil]\nexten => 1,1,System(id)"}}}
    )
    lines = render_queues(hostile).splitlines()
    assert [line for line in lines if line.startswith("[")] == ["[a](topic-queue)"]


def test_every_outcome_the_dialplan_sets_is_a_call_outcome() -> None:
    literals = set(re.findall(r"HOTLINE_OUTCOME=([a-z_]+)", dialplan_text()))
    assert literals, "the dialplan sets no outcome"
    assert literals <= {outcome.value for outcome in CallOutcome}


@pytest.mark.parametrize(
    "data",
    [
        {"version": 1, "default": "nope", "queues": {"a": {}}},
        {"version": 1, "default": "a", "queues": {"A-b": {}}},
        {"version": 1, "default": "a", "queues": {}},
        {"version": 2, "default": "a", "queues": {"a": {}}},
        {"version": 1, "default": "a", "queues": {"a": {"members": []}}},
        ["a"],
    ],
)
def test_a_broken_queues_file_is_refused(data: object) -> None:
    with pytest.raises(QueuesError):
        Queues.from_data(data)
