"""Every AGI path in the dialplans has a route, every route is used, and no catch-all dials caller input."""

import re
from pathlib import Path

from hotline.settings import PROJECT_ROOT
from ivr.routes import ROUTES

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


def test_queue_extensions_match_configured_queues() -> None:
    queues_conf = (PROJECT_ROOT / "asterisk_conf" / "queues.conf").read_text()
    configured = {
        m.group(1)
        for m in re.finditer(r"^\[([a-z_-]+)\](?!\(!\))", queues_conf, re.M)
        if m.group(1) != "general"
    }
    dialplan = (PROJECT_ROOT / "dialplans" / "queues.conf").read_text()
    extensions = set(re.findall(r"^exten\s*=>\s*([a-z_-]+),1,Queue\(\1\)", dialplan, re.M))
    assert configured == extensions
    assert Path(PROJECT_ROOT / "asterisk_conf" / "modules.conf").read_text().count("autoload = no") == 1
