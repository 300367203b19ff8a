"""The hotline as the IVR and queue benchmarks run it: in a subprocess of its own, as in production.

    python bench/hotline_process.py --lifetime SECONDS '<settings as JSON>'   # stops when stdin closes

Asterisk (the sandbox), our FastAGI server, the AMI listener and the rest of ``hotline up``'s services, on a
temporary SQLite database, with the clock pinned to a working day. The parent reads ``READY <sounds folder>``
and closes the child's stdin to stop it. Also the CPU figures the benchmarks print.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from devtools.sandbox import instance_paths
from hotline.settings import Settings, ensure_secrets, load_settings
from launcher.runner import Hotline

WORKING_DAY = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
THIS_SCRIPT = str(Path(__file__).resolve())
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Settings given as text in the JSON that are paths.
PATH_SETTINGS = ("state_dir", "queues_file")


async def until_stdin_closes() -> None:
    """Return when this process's stdin is closed: how a benchmark's parent stops its child servers."""
    stdin_closed = asyncio.Event()

    def on_stdin() -> None:
        if not os.read(sys.stdin.fileno(), 1024):
            stdin_closed.set()

    asyncio.get_running_loop().add_reader(sys.stdin.fileno(), on_stdin)
    await stdin_closed.wait()


def settings_of(values: dict[str, Any]) -> Settings:
    return load_settings(**{k: Path(v) if k in PATH_SETTINGS else v for k, v in values.items()})


async def serve(values: dict[str, Any], lifetime: int) -> None:
    """The child: run the hotline with these settings until stdin closes (or ``lifetime`` seconds pass: a
    child left behind by a crashed run stops by itself)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    signal.alarm(lifetime)
    hotline = Hotline(settings_of(values), with_console=False, clock=lambda: WORKING_DAY)
    try:
        await hotline.start()
        assert hotline.services is not None
        print(f"READY {hotline.services.sounds_dir}", flush=True)
        await until_stdin_closes()
    finally:
        await hotline.stop()


@dataclass
class HotlineProcess:
    settings: Settings
    process: asyncio.subprocess.Process
    sounds_dir: str

    @classmethod
    async def spawn(cls, values: dict[str, Any], log_file: IO[bytes], *, lifetime: int) -> HotlineProcess:
        """Start the child with these settings (JSON values; paths as text) and wait until it is up."""
        settings = ensure_secrets(settings_of(values))  # the secrets file the child will read
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            THIS_SCRIPT,
            "--lifetime",
            str(lifetime),
            json.dumps(values),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
        )
        assert process.stdout is not None
        try:
            async with asyncio.timeout(120):
                line = await process.stdout.readline()
        except TimeoutError:
            line = b""
        if not line.startswith(b"READY "):
            process.kill()
            await process.wait()
            raise RuntimeError(f"the hotline did not start ({line!r}); see {log_file.name}")
        return cls(settings, process, line.decode().split(" ", 1)[1].strip())

    def asterisk_pid(self) -> int | None:
        return instance_paths(self.settings).asterisk_pid()

    def asterisk_errors(self) -> list[str]:
        """ERROR lines of this instance's Asterisk log so far."""
        log_path = instance_paths(self.settings).messages_log
        if not log_path.exists():
            return []
        return [line for line in log_path.read_text(errors="replace").splitlines() if "ERROR[" in line]

    def etc(self) -> Path:
        return instance_paths(self.settings).host("etc")

    async def stop(self) -> None:
        if self.process.returncode is None and self.process.stdin is not None:
            self.process.stdin.close()  # the child stops Asterisk and itself
        try:
            async with asyncio.timeout(40):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        folder = instance_paths(self.settings).host()
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


# ============================================================================================ CPU


def process_cpu(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (0 when it is gone)."""
    if pid is None:
        return 0.0
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    return 0.0


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return float(total - idle), float(total)


@dataclass(frozen=True)
class CpuUse:
    """Percent of one core each group of processes used over a step, and the machine (200 % = both cores)."""

    groups: tuple[tuple[str, float], ...] = ()
    machine: float = 0.0

    def text(self) -> str:
        return " / ".join(
            [*(f"{name} {used:.0f}%" for name, used in self.groups), f"all {self.machine:.0f}%"]
        )


Snapshot = tuple[float, tuple[float, ...], tuple[float, float]]


class CpuMeter:
    """The CPU of named groups of processes (a pid, or several summed, e.g. all phones) between snapshots."""

    def __init__(self, groups: dict[str, Sequence[int | None]]) -> None:
        self.groups = {name: list(pids) for name, pids in groups.items()}
        self.cores = os.cpu_count() or 1

    def snapshot(self) -> Snapshot:
        used = tuple(sum(process_cpu(pid) for pid in pids) for pids in self.groups.values())
        return time.monotonic(), used, machine_cpu()

    def since(self, start: Snapshot) -> CpuUse:
        end = self.snapshot()
        wall = max(end[0] - start[0], 1e-6)
        used = [100 * (b - a) / wall for a, b in zip(start[1], end[1], strict=True)]
        busy, total = end[2][0] - start[2][0], max(end[2][1] - start[2][1], 1.0)
        return CpuUse(tuple(zip(self.groups, used, strict=True)), machine=100 * self.cores * busy / total)


async def machine_busy() -> float:
    """Percent of one core the rest of the machine used over a second (200 % = both cores busy)."""
    before = machine_cpu()
    await asyncio.sleep(1.0)
    after = machine_cpu()
    return 100 * (os.cpu_count() or 1) * (after[0] - before[0]) / max(after[1] - before[1], 1.0)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lifetime", type=int, required=True)
    parser.add_argument("settings", help="the settings as JSON")
    args = parser.parse_args()
    asyncio.run(serve(json.loads(args.settings), args.lifetime))
    return 0


if __name__ == "__main__":
    sys.exit(main())
