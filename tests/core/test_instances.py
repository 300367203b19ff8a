"""Sweeping the Asterisk sandbox's instance folders that killed runs left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools.sandbox import INSTANCES_IN_ROOT, OWNER_FILE, UNOWNED_GRACE, sweep_stale_instances


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def instance(root: Path, name: str, *, owner: int | None, age: float = 0.0) -> Path:
    folder = root / str(INSTANCES_IN_ROOT).lstrip("/") / name
    (folder / "run").mkdir(parents=True)
    (folder / "etc").mkdir()
    if owner is not None:
        (folder / OWNER_FILE).write_text(f"{owner}\n")
    if age:
        then = time.time() - age
        os.utime(folder, (then, then))
    return folder


def test_folders_of_dead_owners_go_and_the_rest_stay(tmp_path: Path) -> None:
    ours = instance(tmp_path, "test-1", owner=dead_pid())  # the caller's own: never swept
    alive = instance(tmp_path, "main", owner=os.getpid())
    dead = instance(tmp_path, "test-2", owner=dead_pid())
    (dead / "run" / "asterisk.pid").write_text(f"{dead_pid()}\n")
    old_unowned = instance(tmp_path, "test-3", owner=None, age=UNOWNED_GRACE + 60)
    new_unowned = instance(tmp_path, "test-4", owner=None)  # maybe being laid out right now

    removed = sweep_stale_instances(tmp_path, keep="test-1")

    assert removed == ["test-2", "test-3"]
    assert ours.is_dir() and alive.is_dir() and new_unowned.is_dir()
    assert not dead.exists() and not old_unowned.exists()


def test_an_orphaned_asterisk_is_stopped(tmp_path: Path) -> None:
    # Stands in for an Asterisk whose test run was killed: a process with "asterisk" on its command line.
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "asterisk"])
    try:
        folder = instance(tmp_path, "test-9", owner=dead_pid())
        (folder / "run" / "asterisk.pid").write_text(f"{orphan.pid}\n")
        assert sweep_stale_instances(tmp_path, keep="main") == ["test-9"]
        assert orphan.wait(timeout=10) == -9
        assert not folder.exists()
    finally:
        orphan.kill()
        orphan.wait()


def test_nothing_to_sweep_in_a_new_sandbox(tmp_path: Path) -> None:
    assert sweep_stale_instances(tmp_path, keep="main") == []


def test_the_sandboxs_asterisk_user_gets_ids_no_host_user_has(tmp_path: Path) -> None:
    import grp
    import pwd

    from devtools.sandbox import separate_asterisk_user

    if os.geteuid() != 0:
        pytest.skip("renumbering files needs root")
    host = pwd.getpwuid(os.getuid())  # an id the host certainly uses: ours
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text(
        f"root:x:0:0::/root:/bin/sh\nasterisk:x:{host.pw_uid}:{host.pw_gid}::/:/bin/false\n"
    )
    (etc / "group").write_text(f"root:x:0:\nasterisk:x:{host.pw_gid}:\n")
    owned = tmp_path / "var" / "lib" / "asterisk" / "astdb.sqlite3"
    owned.parent.mkdir(parents=True)
    owned.write_text("")
    os.chown(owned, host.pw_uid, host.pw_gid)

    run_as = separate_asterisk_user(tmp_path)

    assert run_as.uid not in {entry.pw_uid for entry in pwd.getpwall()}
    assert run_as.gid not in {entry.gr_gid for entry in grp.getgrall()}
    assert f"asterisk:x:{run_as.uid}:{run_as.gid}:" in (etc / "passwd").read_text()
    assert (owned.stat().st_uid, owned.stat().st_gid) == (run_as.uid, run_as.gid)
    assert separate_asterisk_user(tmp_path) == run_as  # idempotent
