"""scripts/asterisk-root.sh clears the scratch roots of interrupted runs, never one another run builds."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hotline.settings import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "asterisk-root.sh"


def test_a_scratch_root_being_built_by_a_live_run_is_left_alone(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        import pytest

        pytest.skip("the script builds roots as root only")
    parent = tmp_path / "cache"
    building = parent / f".build-{os.getpid()}"  # this process is alive: a run still building
    abandoned = parent / ".build-999999999"  # no such process: an interrupted run
    for folder in (building, abandoned):
        (folder / "usr").mkdir(parents=True)
    # A debootstrap that fails at once: the script stops right after its clean-up.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "debootstrap"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    result = subprocess.run(
        ["bash", str(SCRIPT), str(parent / "asterisk-root")],
        env={
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "HOTLINE_DEBIAN_MIRROR": "http://127.0.0.1:9",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert building.is_dir(), result.stderr
    assert not abandoned.exists(), result.stderr
    assert "is building it" in result.stderr
