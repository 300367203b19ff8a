"""The project's floors: imports only point down (or sideways within a package).

    launcher/              the entry point: wires and starts the services (runner, ``hotline`` command)
    devtools/              development tools: the Asterisk sandbox, the synthetic caller
    ivr/  agent_console/  ami_listener/      the services, side by side, none importing another
    hotline/               the core: settings, clock, phones, outcomes, queues, database, AMI, live state

Every ``import`` and ``from … import`` of the project's own packages is read from the source (also those
inside functions), so a lazy import cannot hide an upward arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hotline.settings import PROJECT_ROOT

# What each package may import, besides itself.
ALLOWED: dict[str, frozenset[str]] = {
    "hotline": frozenset(),
    "ivr": frozenset({"hotline"}),
    "agent_console": frozenset({"hotline"}),
    "ami_listener": frozenset({"hotline"}),
    "devtools": frozenset({"hotline"}),
    "launcher": frozenset({"hotline", "ivr", "agent_console", "ami_listener", "devtools"}),
}
PACKAGES = frozenset(ALLOWED)


def project_imports(path: Path) -> set[str]:
    """The project packages that ``path`` imports (first component of each module name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & PACKAGES
    return found


def upward_imports(root: Path) -> list[str]:
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in sorted((root / package).rglob("*.py")):
            for imported in sorted(project_imports(path) - allowed - {package}):
                wrong.append(f"{path.relative_to(root)} imports {imported}")
    return wrong


def test_every_package_of_the_project_has_a_floor() -> None:
    packages = {path.parent.name for path in PROJECT_ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == PACKAGES


def test_imports_only_point_down() -> None:
    assert upward_imports(PROJECT_ROOT) == []


@pytest.mark.parametrize(
    ("package", "line"),
    [
        ("hotline", "from ivr.session import run_ivr"),
        ("hotline", "    import agent_console.users"),
        ("ivr", "from agent_console import keys"),
        ("agent_console", "from ami_listener import CallEventListener"),
        ("ami_listener", "import ivr"),
        ("devtools", "from launcher.runner import Hotline"),
    ],
)
def test_an_upward_import_is_caught(tmp_path: Path, package: str, line: str) -> None:
    for name in PACKAGES:
        (tmp_path / name).mkdir()
    body = f"def later() -> None:\n{line}\n" if line.startswith(" ") else f"{line}\n"
    (tmp_path / package / "module.py").write_text(body)
    assert upward_imports(tmp_path) == [f"{package}/module.py imports {line.split()[1].split('.')[0]}"]
