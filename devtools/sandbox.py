"""The development sandbox: the real Asterisk 22, run from a Debian-unstable root with the project's own
configuration (written by :mod:`hotline.asterisk_config`).

The sandbox is a Debian-unstable root with Asterisk from Debian's packages (``scripts/asterisk-root.sh``).
Each instance (``main`` for ``hotline up``, one per test session) gets a folder inside that root holding a
copy of ``asterisk_conf/`` and ``dialplans/``, a few generated include files (ports, the AMI secret, the
FastAGI address), its prompts, and its run/log/spool folders. Asterisk runs in the foreground under
``chroot``; stopping it is ``core stop now`` or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import grp
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hotline.asterisk_config import (
    ASTERISK_USER,
    CONF_DIR,
    AsteriskError,
    RunAs,
    install_sounds,
    write_config,
)
from hotline.queues import Queues
from hotline.settings import PROJECT_ROOT, Settings
from hotline.trunks import Trunks

log = logging.getLogger(__name__)

BUILD_SCRIPT = PROJECT_ROOT / "scripts" / "asterisk-root.sh"
INSTANCES_IN_ROOT = PurePosixPath("/var/lib/hotline-19524")
MODULES_IN_ROOT = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
OWNER_FILE = "owner.pid"  # in an instance's folder: the process that runs it (the hotline, a test session)
UNOWNED_GRACE = 600.0  # seconds: an instance folder without an owner file is left alone this long
# An instance's folders that Asterisk (running as its own user) writes.
WRITABLE = ("cache", "lib", "spool", "run", "log")


def ensure_root(settings: Settings) -> None:
    """Build the sandbox root if it is missing (idempotent; the script caches it on the machine)."""
    if not (settings.asterisk_root / ".hotline-ready").is_file():
        log.info("building the Asterisk sandbox in %s (first run only)", settings.asterisk_root)
        subprocess.run(["bash", str(BUILD_SCRIPT), str(settings.asterisk_root)], check=True)
    separate_asterisk_user(settings.asterisk_root)


def separate_asterisk_user(root: Path) -> RunAs:
    """Give the root's ``asterisk`` user and group ids that nobody on the host has.

    The root shares the host's kernel: Asterisk running as the id of a host user (Debian's packages in the
    root pick the next free system id of the *root*, 101, which on a host may well be PostgreSQL's) could
    signal or trace that user's processes. Idempotent; renumbers the user and its files once."""
    with (root / ".hotline-ids.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # runs starting at once renumber once
        return _separate(root)


def _separate(root: Path) -> RunAs:
    run_as = RunAs.from_root(root)
    host_uids = {entry.pw_uid for entry in pwd.getpwall()}
    host_gids = {entry.gr_gid for entry in grp.getgrall()}
    if run_as.uid not in host_uids and run_as.gid not in host_gids:
        return run_as
    root_ids = {
        int(line.split(":")[2]) for name in ("passwd", "group") for line in _lines(root / "etc" / name)
    }
    new = next(i for i in range(64999, 60000, -1) if i not in host_uids | host_gids | root_ids)
    log.warning(
        "the sandbox's asterisk user %d:%d is a host user's id too: renumbering it %d:%d",
        run_as.uid,
        run_as.gid,
        new,
        new,
    )
    _renumber(root / "etc" / "passwd", ASTERISK_USER, {2: new, 3: new})
    _renumber(root / "etc" / "group", ASTERISK_USER, {2: new})
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if info.st_uid == run_as.uid or info.st_gid == run_as.gid:
                uid = new if info.st_uid == run_as.uid else -1
                gid = new if info.st_gid == run_as.gid else -1
                os.chown(path, uid, gid, follow_symlinks=False)
    return RunAs(new, new)


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.count(":") >= 2]


def _renumber(path: Path, name: str, fields: dict[int, int]) -> None:
    lines = []
    for line in path.read_text().splitlines():
        parts = line.split(":")
        if parts[0] == name:
            for index, value in fields.items():
                parts[index] = str(value)
        lines.append(":".join(parts))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.chmod(path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def _modules_dir(root: Path) -> str:
    for candidate in sorted((root / "usr" / "lib").glob("*/asterisk/modules")):
        return "/" + str(candidate.relative_to(root))
    return MODULES_IN_ROOT


@dataclass(frozen=True)
class InstancePaths:
    """An instance's folders, both as Asterisk sees them (inside the root) and on the host."""

    root: Path
    inside: PurePosixPath

    def host(self, *parts: str) -> Path:
        return self.root / str(self.inside).lstrip("/") / Path(*parts)

    def seen_by_asterisk(self, *parts: str) -> str:
        return str(self.inside.joinpath(*parts))

    @property
    def config_file(self) -> str:
        return self.seen_by_asterisk("etc", "asterisk.conf")

    @property
    def messages_log(self) -> Path:
        return self.host("log", "messages.log")

    def asterisk_pid(self) -> int | None:
        """The pid in the instance's ``asterisk.pid`` (its Asterisk may have gone since)."""
        return read_pid(self.host("run", "asterisk.pid"))


def instance_paths(settings: Settings) -> InstancePaths:
    return InstancePaths(settings.asterisk_root, INSTANCES_IN_ROOT / settings.asterisk_instance)


def _instance_asterisk_conf(paths: InstancePaths, modules_dir: str) -> str:
    directories = {
        "astcachedir": paths.seen_by_asterisk("cache"),
        "astetcdir": paths.seen_by_asterisk("etc"),
        "astmoddir": modules_dir,
        "astvarlibdir": paths.seen_by_asterisk("lib"),
        "astdbdir": paths.seen_by_asterisk("lib"),
        "astkeydir": paths.seen_by_asterisk("lib"),
        "astspooldir": paths.seen_by_asterisk("spool"),
        "astrundir": paths.seen_by_asterisk("run"),
        "astlogdir": paths.seen_by_asterisk("log"),
    }
    lines = []
    for line in (CONF_DIR / "asterisk.conf").read_text().splitlines():
        key = line.split("=>", 1)[0].strip()
        if key in directories:
            line = f"{key} => {directories[key]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _ensure_hosts_file(root: Path) -> None:
    """The root has no /etc/hosts: without one, Asterisk's lookups of this machine's own name fail (and
    block) on every call."""
    hosts = root / "etc" / "hosts"
    wanted = f"127.0.0.1\tlocalhost {socket.gethostname()}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    if not hosts.exists() or hosts.read_text() != wanted:
        tmp = hosts.with_suffix(".tmp")
        tmp.write_text(wanted)
        os.replace(tmp, hosts)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, and someone else's
    return True


def read_pid(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip())
    return None


def _is_asterisk(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return b"asterisk" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return False


def sweep_stale_instances(root: Path, *, keep: str) -> list[str]:
    """Remove the instances whose owner is gone (a run killed with SIGKILL leaves its Asterisk running, in a
    session of its own, and its folder): stop that Asterisk, delete the folder. Returns the names removed.

    An instance without an owner file is removed only when no Asterisk of its runs."""
    folder = root / str(INSTANCES_IN_ROOT).lstrip("/")
    if not folder.is_dir():
        return []
    removed = []
    for instance in sorted(folder.iterdir()):
        if instance.name == keep or not instance.is_dir():
            continue
        owner = read_pid(instance / OWNER_FILE)
        if owner is not None and _alive(owner):
            continue
        if owner is None and time.time() - instance.stat().st_mtime < UNOWNED_GRACE:
            continue  # maybe being laid out right now, by a run that has not written its owner file yet
        asterisk = InstancePaths(root, INSTANCES_IN_ROOT / instance.name).asterisk_pid()
        if asterisk is not None and _alive(asterisk) and _is_asterisk(asterisk):
            if owner is None:
                continue  # not ours to judge: an instance from before owner files, still running
            with contextlib.suppress(ProcessLookupError):
                os.kill(asterisk, 9)
            log.warning(
                "stopped Asterisk %d of instance %s: its owner %d is gone", asterisk, instance.name, owner
            )
        shutil.rmtree(instance, ignore_errors=True)
        removed.append(instance.name)
    if removed:
        log.info("removed %d stale Asterisk instance folders: %s", len(removed), ", ".join(removed))
    return removed


def prepare_instance(
    settings: Settings,
    queues: Queues,
    prompts_dir: Path | None = None,
    *,
    owner: int | None = None,
    trunks: Trunks | None = None,
) -> InstancePaths:
    """Lay out the sandbox instance's folder: configuration, generated includes, prompts, hold music
    (``trunks``: the settings' trunks file when None).

    ``owner`` is the process whose life the instance's lasts (default: this one; under the watchdog, the
    supervisor). Instances left behind by killed runs are swept first."""
    _ensure_hosts_file(settings.asterisk_root)
    sweep_stale_instances(settings.asterisk_root, keep=settings.asterisk_instance)
    paths = instance_paths(settings)
    run_as = RunAs.from_root(settings.asterisk_root)
    paths.host().mkdir(parents=True, exist_ok=True)
    paths.host().chmod(0o755)
    paths.host(OWNER_FILE).write_text(f"{owner or os.getpid()}\n")
    write_config(
        settings,
        queues,
        paths.host("etc"),
        asterisk_conf=_instance_asterisk_conf(paths, _modules_dir(settings.asterisk_root)),
        moh_dir=paths.seen_by_asterisk("sounds", "hold"),
        group=run_as.gid,
        trunks=trunks,
    )
    # What Asterisk writes is its own and nobody else's: logs, the spool (recordings), its database.
    # Files an Asterisk of an earlier layout wrote as root are handed over once; Asterisk's own stay as is.
    paths.host("log", "cdr-custom").mkdir(mode=0o750, parents=True, exist_ok=True)  # its call record
    for folder in WRITABLE:
        path = paths.host(folder)
        path.mkdir(parents=True, exist_ok=True)
        for item in (path, *path.rglob("*")):
            info = item.lstat()
            if (info.st_uid, info.st_gid) != (run_as.uid, run_as.gid):
                os.chown(item, run_as.uid, run_as.gid, follow_symlinks=False)
        path.chmod(0o750)
    paths.host("log", "cdr-custom").chmod(0o750)
    if paths.messages_log.exists() and running_asterisk(paths) is None:
        paths.messages_log.unlink()  # a fresh log for a fresh start (an adopted Asterisk keeps its own)
    install_sounds(prompts_dir, paths.host("sounds"))
    return paths


def running_asterisk(paths: InstancePaths) -> int | None:
    """The pid of this instance's Asterisk if one runs (left by a run that died, or the worker before)."""
    pid = paths.asterisk_pid()
    if pid is not None and _alive(pid) and _is_asterisk(pid):
        return pid
    return None


def asterisk_command(settings: Settings, paths: InstancePaths, *args: str) -> list[str]:
    """The command line of this instance's Asterisk (``-rx 'queue show'``: its CLI, ``-r``: a console)."""
    return ["chroot", str(settings.asterisk_root), "/usr/sbin/asterisk", "-C", paths.config_file, *args]


#: What an adopted Asterisk reloads of the configuration its new worker wrote.
ADOPT_RELOADS = ("dialplan reload", "module reload res_pjsip.so", "module reload app_queue.so")


class AsteriskProcess:
    """One running Asterisk instance: a child process in a session of its own, so that it outlives this
    process when the watchdog replaces it; the next one adopts it (``adopt``) and the calls go on."""

    def __init__(self, settings: Settings, paths: InstancePaths, *, adopt: bool = False) -> None:
        self.settings = settings
        self.paths = paths
        self.adopt = adopt
        self._process: asyncio.subprocess.Process | None = None
        self._adopted: int | None = None

    def _command(self, *args: str) -> list[str]:
        return asterisk_command(self.settings, self.paths, *args)

    async def start(self, *, ready_timeout: float = 60.0) -> None:
        pid = running_asterisk(self.paths)
        if pid is not None and self.adopt:
            code, _ = await self.cli("core waitfullybooted", timeout=ready_timeout)
            if code == 0:
                self._adopted = pid
                # The configuration was written again and the running Asterisk reads it: the dialplan (its
                # globals: the FastAGI address), the PJSIP endpoints (consultants' phones added while no
                # worker ran, trunks) and the queues. None of these reloads ends a call; the consultants'
                # states rebuild the queue members at the next AMI login.
                for command in ADOPT_RELOADS:
                    code, out = await self.cli(command)
                    if code != 0:
                        log.warning("adopted Asterisk: %r failed: %s", command, out.strip()[:200])
                log.warning(
                    "adopted the running Asterisk %d of instance %s", pid, self.settings.asterisk_instance
                )
                return
        await self._stop_stale()
        log.info(
            "starting Asterisk (instance %s, SIP %s:%s, AMI %s:%s)",
            self.settings.asterisk_instance,
            self.settings.sip_host,
            self.settings.sip_port,
            self.settings.ami_host,
            self.settings.ami_port,
        )
        self._process = await asyncio.create_subprocess_exec(
            *self._command("-f", "-n"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            await asyncio.wait_for(self._wait_fully_booted(), ready_timeout)
        except TimeoutError as exc:
            await self.stop()
            raise AsteriskError(f"Asterisk did not finish booting; see {self.paths.messages_log}") from exc

    async def _wait_fully_booted(self) -> None:
        while True:
            if self._process is not None and self._process.returncode is not None:
                raise AsteriskError(
                    f"Asterisk exited with {self._process.returncode}; see {self.paths.messages_log}"
                )
            if Path(self.paths.host("run", "asterisk.ctl")).exists():
                code, _ = await self.cli("core waitfullybooted", timeout=30)
                if code == 0:
                    return
            await asyncio.sleep(0.2)

    async def cli(self, command: str, *, timeout: float = 15.0) -> tuple[int, str]:
        """Run one CLI command through the instance's control socket (``asterisk -rx``)."""
        process = await asyncio.create_subprocess_exec(
            *self._command("-rx", command),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            return -1, ""
        return process.returncode or 0, out.decode(errors="replace")

    async def _stop_stale(self) -> None:
        """An instance left running by a killed run would hold the ports: stop it first."""
        if self.paths.host("run", "asterisk.ctl").exists():
            code, _ = await self.cli("core stop now", timeout=10)
            if code == 0:
                log.warning("stopped an Asterisk left running by an earlier run of this instance")
                for _ in range(100):
                    if not self.paths.host("run", "asterisk.ctl").exists():
                        break
                    await asyncio.sleep(0.1)

    async def stop(self, *, timeout: float = 20.0) -> None:
        if self._adopted is not None:
            pid, self._adopted = self._adopted, None
            await self.cli("core stop now", timeout=timeout / 2)
            for _ in range(int(timeout * 10)):
                if not _alive(pid):
                    break
                await asyncio.sleep(0.1)
            log.info("Asterisk %d stopped", pid)
            return
        process = self._process
        if process is None or process.returncode is not None:
            return
        await self.cli("core stop now", timeout=timeout / 2)
        try:
            await asyncio.wait_for(process.wait(), timeout / 2)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        log.info("Asterisk stopped (exit %s)", process.returncode)

    @property
    def running(self) -> bool:
        if self._adopted is not None:
            return _alive(self._adopted)
        return self._process is not None and self._process.returncode is None

    def error_lines(self) -> list[str]:
        """ERROR lines of this instance's log (a clean start has none)."""
        if not self.paths.messages_log.exists():
            return []
        return [
            line
            for line in self.paths.messages_log.read_text(errors="replace").splitlines()
            if "ERROR[" in line
        ]
