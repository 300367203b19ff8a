"""The hotline as faults find it: `hotline up` (the watchdog and its worker) in processes of their own,
frozen and killed during real SIP calls. Callers reach the consultants' queue; every call is recorded,
with the times Asterisk saw.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devtools.sandbox import asterisk_command, instance_paths, read_pid, running_asterisk
from devtools.testcall import place_test_call, random_caller
from hotline.ami import AmiClient, AmiEvent, QueueCallerJoin, actions
from hotline.consultants import Consultants, parse_skill
from hotline.db.models import Call, ConsoleUser
from hotline.queues import Queues
from hotline.settings import PROJECT_ROOT, Settings, ensure_secrets, free_ports, load_settings
from launcher.watchdog import worker_pid_file
from tests.e2e.conftest import eventually

WATCHDOG_SECONDS = 3.0


@dataclass
class Supervised:
    settings: Settings
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "launcher.cli", "up"],
            env=self.env,
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the watchdog and its worker at once (a crash); Asterisk, in a session of its own, stays."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def worker_pid(self) -> int | None:
        return read_pid(worker_pid_file(self.settings))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def up(self, times: int = 1) -> int:
        """Wait until a worker is up for the ``times``-th time (its banner); its pid."""

        async def banners() -> int | None:
            count = self.log().count("Zielona Linia is up")
            pid = self.worker_pid()
            return pid if count >= times and pid is not None else None

        return await eventually(banners, timeout=180, what=f"worker number {times} up")


@pytest.fixture
async def supervised(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Supervised]:
    if os.geteuid() != 0:
        pytest.skip("the Asterisk sandbox runs under chroot, which needs root")
    state = tmp_path_factory.mktemp("outage")
    rtp_start = random.randrange(30000, 39000, 2)
    values = {
        "state_dir": str(state),
        "database_url": database_url,
        "asterisk_instance": f"outage-{os.getpid()}",
        "rtp_start": str(rtp_start),
        "rtp_end": str(rtp_start + 100),
        "redis_prefix": f"hotline-outage-{os.getpid()}",
        "watchdog_seconds": str(WATCHDOG_SECONDS),
        **{name: str(port) for name, port in free_ports().items()},
    }
    env = {**os.environ, **{f"HOTLINE_{name.upper()}": value for name, value in values.items()}}
    settings = ensure_secrets(load_settings(environ=env))  # the secrets file the worker will read
    supervised = Supervised(settings, env, state / "hotline-up.log")
    supervised.start()
    try:
        yield supervised
    finally:
        supervised.stop()
        paths = instance_paths(settings)
        pid = running_asterisk(paths)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(paths.host(), ignore_errors=True)


async def tools_ami(settings: Settings) -> AmiClient:
    ami = AmiClient(settings)
    await ami.start()
    await ami.wait_connected(timeout=180)
    return ami


async def stored(sessions: async_sessionmaker[AsyncSession], uniqueid: str) -> Call | None:
    async with sessions() as session:
        return await session.scalar(select(Call).where(Call.uniqueid == uniqueid))


def asterisk_record(settings: Settings, uniqueid: str) -> dict[str, object]:
    """Asterisk's own record of the call (its CDR line), the times the database must carry."""
    path = instance_paths(settings).host("log", "cdr-custom", "hotline-calls.json")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    (line,) = [line for line in lines if line["uniqueid"] == uniqueid]
    return line


async def add_consultant(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> str:
    """A new consultant in the database only; their phone's endpoint name."""
    name = f"outage-{random.randrange(10**9)}"
    async with sessions() as session, session.begin():
        session.add(ConsoleUser(username=name, display_name=name, password_hash="x", role="consultant"))
    consultants = Consultants(sessions, Queues.load(settings.queues_file))
    info, _ = await consultants.add(name, site="centre", skills=[parse_skill("jobs:pl")])
    return info.sip_username


async def asterisk_cli(settings: Settings, command: str) -> str:
    """What the instance's Asterisk CLI prints for one command."""
    process = await asyncio.create_subprocess_exec(
        *asterisk_command(settings, instance_paths(settings), "-rx", command),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return out.decode(errors="replace")


def at(seconds: object) -> datetime:
    return datetime.fromtimestamp(float(str(seconds)), UTC)


async def test_a_frozen_worker_is_replaced_and_its_caller_reaches_the_queue(
    supervised: Supervised, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    ami = await tools_ami(supervised.settings)
    events = ami.subscribe()
    try:
        first_worker = await supervised.up()
        # A caller chose Polish and listens to the main menu...
        call = await place_test_call(
            ami, "19524", ["1"], caller=random_caller(), hang_up=False, type_ahead_from=None
        )
        uniqueid = call.uniqueid or ""
        assert uniqueid and call.queue is None, call.describe()
        # ... when the worker freezes.
        os.kill(first_worker, signal.SIGSTOP)

        async def queued() -> AmiEvent | None:
            while not events.empty():
                event = events.get_nowait()
                if isinstance(event, QueueCallerJoin) and event.uniqueid == uniqueid:
                    return event
            await asyncio.sleep(0.1)
            return None

        joined = await eventually(queued, timeout=WATCHDOG_SECONDS + 20, what="the caller in the queue")
        assert joined.queue == "consultant-pl"  # the default queue, in the default language
        assert "has not answered" in supervised.log()
        # Another worker takes over the same Asterisk.
        second_worker = await supervised.up(times=2)
        assert second_worker != first_worker

        await ami.send(actions.Hangup(channel=call.events[0].channel))

        async def recorded() -> Call | None:
            row = await stored(db_sessions, uniqueid)
            return row if row is not None and row.ended_at is not None else None

        row = await eventually(recorded, timeout=60, what="the frozen call's record")
        truth = asterisk_record(supervised.settings, uniqueid)
        assert row.started_at == at(truth["start"]) and row.ended_at == at(truth["end"])
        assert row.outcome == "fallback_queue" and row.queue == "consultant"
    finally:
        ami.unsubscribe(events)
        await ami.close()


async def test_calls_made_while_the_hotline_was_dead_are_recorded_after_it_restarts(
    supervised: Supervised, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    ami = await tools_ami(supervised.settings)
    try:
        await supervised.up()
        paths = instance_paths(supervised.settings)
        asterisk = running_asterisk(paths)
        assert asterisk is not None
        supervised.kill()

        # Nobody listens: the IVR is unreachable, the dialplan queues the callers by itself.
        during = [await place_test_call(ami, "19524", ["1", "0"], caller=random_caller()) for _ in range(2)]
        for result in during:
            assert result.queue == "consultant" and result.fallback, result.describe()
        # A consultant added while no worker ran (straight into the database: `hotline consultant add`
        # would have had the running Asterisk reload): their phone must reach the adopted Asterisk.
        endpoint = await add_consultant(supervised.settings, db_sessions)
        assert not re.search(
            rf"Endpoint:\s+{endpoint}\b", await asterisk_cli(supervised.settings, "pjsip show endpoints")
        )

        supervised.start()
        for result in during:
            uniqueid = result.uniqueid or ""

            async def recorded(uniqueid: str = uniqueid) -> Call | None:
                row = await stored(db_sessions, uniqueid)
                return row if row is not None and row.ended_at is not None else None

            row = await eventually(recorded, timeout=120, what="a call made while the hotline was dead")
            truth = asterisk_record(supervised.settings, uniqueid)
            assert row.started_at == at(truth["start"]) and row.ended_at == at(truth["end"])
            assert row.outcome == "fallback_queue"
        # The same Asterisk went on: no call was dropped by a restart.
        assert running_asterisk(paths) == asterisk
        # ... and it knows the phone of the consultant added meanwhile.
        shown = await asterisk_cli(supervised.settings, f"pjsip show endpoint {endpoint}")
        assert re.search(rf"Endpoint:\s+{endpoint}\b", shown), shown
    finally:
        await ami.close()
