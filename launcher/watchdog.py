"""The watchdog of ``hotline up``: a small supervisor process that runs the hotline in a worker process and
ends the worker when it stops answering.

Why: a caller in the IVR is connected to the worker's FastAGI server. If the worker is frozen (SIGSTOP, a
stuck event loop, an overload), the kernel keeps its sockets open and Asterisk waits for the next AGI
command forever, in silence. Killing the worker closes its sockets: Asterisk sees the AGI session end and
the dialplan (dialplans/hotline.conf) puts the caller in the consultants' queue. Asterisk itself runs in a
session of its own and survives; the next worker adopts it and reconciles the call records from
Asterisk's own record (ami_listener/reconcile.py).

How: the worker's event loop writes a heartbeat byte to a pipe every ``watchdog_seconds / 4``; the
supervisor kills the worker (SIGKILL) when none came for ``watchdog_seconds`` (armed after the worker's
first heartbeat, when it is up), and starts another. A caller therefore reaches the queue within
``watchdog_seconds`` and a little more of the worker going silent. Under systemd (``NOTIFY_SOCKET`` set)
the supervisor reports READY=1 and passes each heartbeat on as WATCHDOG=1, so a unit with ``WatchdogSec``
also restarts a frozen supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from hotline.settings import Settings

log = logging.getLogger(__name__)

HEARTBEAT_FD_VARIABLE = "HOTLINE_WATCHDOG_FD"
# How long a new worker may take to come up (build prompts, migrate, boot Asterisk) before its first beat.
START_TIMEOUT = 180.0
RESTART_PAUSE = 1.0
STOP_TIMEOUT = 30.0
PR_SET_PDEATHSIG = 1


def worker_pid_file(settings: Settings) -> Path:
    return settings.state_dir / "hotline-worker.pid"


# --- The worker's side --------------------------------------------------------------------------------------


def die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent (the supervisor) dies: never two workers."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


async def heartbeat(settings: Settings) -> None:
    """Beat while this process's event loop runs (a blocked loop beats no more); a no-op when the process
    does not run under the watchdog."""
    fd_text = os.environ.get(HEARTBEAT_FD_VARIABLE)
    if not fd_text:
        return
    fd = int(fd_text)
    os.set_blocking(fd, False)
    interval = settings.watchdog_seconds / 4
    while True:
        try:
            os.write(fd, b".")
        except BlockingIOError:
            pass  # the supervisor is behind: the pipe is full of beats already
        except OSError:
            return  # the supervisor is gone (and the kernel ends this process)
        await asyncio.sleep(interval)


# --- The supervisor -----------------------------------------------------------------------------------------


def _notify(message: str) -> None:
    """sd_notify(3) without libsystemd: one datagram to ``NOTIFY_SOCKET``, when systemd set one."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), address)


class Supervisor:
    def __init__(self, settings: Settings, worker_argv: list[str]) -> None:
        self.settings = settings
        self.worker_argv = worker_argv
        self.stopping = False
        self.worker: subprocess.Popen[bytes] | None = None

    def _start_worker(self) -> int:
        """Start a worker; returns the read end of its heartbeat pipe."""
        read_end, write_end = os.pipe()
        env = {**os.environ, HEARTBEAT_FD_VARIABLE: str(write_end)}
        self.worker = subprocess.Popen(self.worker_argv, env=env, pass_fds=(write_end,))
        os.close(write_end)
        worker_pid_file(self.settings).write_text(f"{self.worker.pid}\n")
        log.info("watchdog: worker %d started", self.worker.pid)
        return read_end

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping = True
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)
        limit = self.settings.watchdog_seconds
        ready = False
        while not self.stopping:
            pipe = self._start_worker()
            assert self.worker is not None
            worker = self.worker
            last_beat: float | None = None
            started = time.monotonic()
            while True:
                waited = time.monotonic() - (last_beat if last_beat is not None else started)
                allowed = limit if last_beat is not None else START_TIMEOUT
                try:
                    readable, _, _ = select.select([pipe], [], [], max(0.0, min(1.0, allowed - waited)))
                except InterruptedError:
                    readable = []
                if readable:
                    if not os.read(pipe, 4096):
                        break  # the worker closed its end: it is ending
                    last_beat = time.monotonic()
                    if not ready:
                        ready = True
                        _notify("READY=1")
                    _notify("WATCHDOG=1")
                    continue
                if worker.poll() is not None or self.stopping:
                    break
                if time.monotonic() - (last_beat if last_beat is not None else started) >= allowed:
                    log.error(
                        "watchdog: worker %d has not answered for %.0f s: killing it (callers in the IVR "
                        "fall back to the consultants' queue) and starting another",
                        worker.pid,
                        allowed,
                    )
                    worker.kill()
                    break
            os.close(pipe)
            try:
                code = worker.wait(timeout=STOP_TIMEOUT if self.stopping else 5)
            except subprocess.TimeoutExpired:
                worker.kill()
                code = worker.wait()
            if self.stopping:
                _notify("STOPPING=1")
                return 0
            log.warning("watchdog: worker %d ended (%s); starting another", worker.pid, code)
            time.sleep(RESTART_PAUSE)
        return 0


def supervise(settings: Settings, worker_args: list[str]) -> int:
    """Run ``hotline up`` with these arguments in a worker process under the watchdog, until SIGINT or
    SIGTERM."""
    argv = [sys.executable, "-m", "launcher.cli", "up", "--worker", *worker_args]
    return Supervisor(settings, argv).run()
