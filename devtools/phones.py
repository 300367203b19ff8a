"""Consultants' phones for tests and benchmarks: real SIP user agents (baresip, headless).

Each :class:`SoftPhone` is one ``baresip`` process with its own configuration folder, registering to the
hotline's Asterisk as a consultant (user ``c1001`` and the password ``hotline consultant add`` printed),
answering automatically or not (``answer``), echoing what it hears as its voice. It is driven over baresip's
``ctrl_tcp`` (netstring-framed JSON, one connection per phone): events (``REGISTER_OK``, ``CALL_INCOMING``,
``CALL_ESTABLISHED``, ``CALL_CLOSED``) are queued for the test to wait on; commands are ``dial``, ``accept``,
``hangup``, ``answermode``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BARESIP = "baresip"
MODULES_DIR = "/usr/lib/baresip/modules"


class PhoneError(RuntimeError):
    """The phone could not start, register or do what was asked."""


@dataclass
class PhoneEvent:
    type: str
    fields: dict[str, Any] = field(default_factory=dict)


def _bindable(port: int, kinds: tuple[int, ...]) -> bool:
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def phone_ports() -> tuple[int, int, tuple[int, int]]:
    """Free ports for one phone: SIP (baresip binds UDP and TCP on it, and TCP on the next one), control
    (TCP), RTP (an even range of 10)."""
    while True:
        sip = random.randrange(30000, 60000, 2)
        if not _bindable(sip, (socket.SOCK_DGRAM, socket.SOCK_STREAM)) or not _bindable(
            sip + 1, (socket.SOCK_STREAM,)
        ):
            continue
        ctrl = random.randrange(30000, 60000)
        rtp = random.randrange(30000, 60000, 2)
        if ctrl in (sip, sip + 1) or not _bindable(ctrl, (socket.SOCK_STREAM,)):
            continue
        if rtp <= sip + 1 <= rtp + 10 or not all(
            _bindable(p, (socket.SOCK_DGRAM,)) for p in range(rtp, rtp + 10)
        ):
            continue
        return sip, ctrl, (rtp, rtp + 10)


class SoftPhone:
    """One consultant's phone: ``await phone.start()``, then wait for events, then ``await phone.stop()``."""

    def __init__(
        self,
        folder: Path,
        *,
        user: str,
        password: str,
        asterisk: tuple[str, int],
        sip_port: int,
        ctrl_port: int,
        rtp_ports: tuple[int, int],
        answer: bool = True,
        sound: Path | None = None,
    ) -> None:
        """``sound``: what the phone sends in a call, a WAV file (8 kHz, 16-bit mono), instead of an echo of
        what it hears; baresip ends the call when it runs out."""
        self.folder = folder
        self.sound = sound
        self.user = user
        self.password = password
        self.asterisk = asterisk
        self.sip_port = sip_port
        self.ctrl_port = ctrl_port
        self.rtp_ports = rtp_ports
        self.answer = answer
        self.events: asyncio.Queue[PhoneEvent] = asyncio.Queue()
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._responses: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def _write_config(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # The phone's voice: a sound file of the test's (aufile: the call ends when it ends), or else what it
        # hears (aubridge: source and player joined), so that it never ends.
        source = f"aufile,{self.sound}" if self.sound is not None else "aubridge,nil"
        host, port = self.asterisk
        (self.folder / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{self.sip_port}",
                    "sip_transports udp",
                    "net_interface 127.0.0.1",
                    f"rtp_ports {self.rtp_ports[0]}-{self.rtp_ports[1]}",
                    f"audio_source {source}",
                    "audio_player aubridge,nil",
                    "audio_alert aubridge,nil",
                    "ausrc_srate 8000",
                    "auplay_srate 8000",
                    "ausrc_channels 1",
                    "auplay_channels 1",
                    f"module_path {MODULES_DIR}",
                    "module g711.so",
                    "module aufile.so",
                    "module aubridge.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
                    "",
                ]
            )
        )
        mode = "auto" if self.answer else "manual"
        (self.folder / "accounts").write_text(
            f"<sip:{self.user}@{host}:{port};transport=udp>;auth_user={self.user};auth_pass={self.password};"
            f"answermode={mode};audio_codecs=PCMU,PCMA;regint=600\n"
        )
        (self.folder / "contacts").write_text("")

    @property
    def pid(self) -> int | None:
        """The baresip process's id (None before :meth:`start`)."""
        return None if self._process is None else self._process.pid

    async def start(self, *, timeout: float = 20.0) -> None:
        """Start baresip and connect to its control port (registration: :meth:`registered`)."""
        if shutil.which(BARESIP) is None:
            raise PhoneError("baresip is not installed (Debian package baresip-core)")
        self._write_config()
        self._process = await asyncio.create_subprocess_exec(
            BARESIP,
            "-f",
            str(self.folder),
            stdin=subprocess.DEVNULL,
            stdout=(self.folder / "baresip.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
                break
            except OSError:
                if self._process.returncode is not None or loop.time() > deadline:
                    raise PhoneError(
                        f"baresip of {self.user} did not start: {self.folder}/baresip.log"
                    ) from None
                await asyncio.sleep(0.05)
        self._task = asyncio.create_task(self._read(), name=f"phone-{self.user}")

    async def _read(self) -> None:
        assert self._reader is not None
        while True:
            try:
                length = await self._reader.readuntil(b":")
                payload = await self._reader.readexactly(int(length[:-1]) + 1)  # with the trailing ","
            except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                return
            try:
                message = json.loads(payload[:-1])
            except ValueError:
                log.warning("phone %s: unreadable control message %r", self.user, payload[:80])
                continue
            if message.get("event"):
                self.events.put_nowait(PhoneEvent(str(message.get("type", "")), message))
            elif message.get("response"):
                future = self._responses.pop(str(message.get("token", "")), None)
                if future is not None and not future.done():
                    future.set_result(message)

    async def command(self, name: str, params: str = "", *, timeout: float = 10.0) -> dict[str, Any]:
        assert self._writer is not None
        token = secrets.token_hex(4)
        body = json.dumps({"command": name, "params": params, "token": token}).encode()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._responses[token] = future
        self._writer.write(str(len(body)).encode() + b":" + body + b",")
        await self._writer.drain()
        return await asyncio.wait_for(future, timeout)

    async def wait_for(self, *types: str, timeout: float = 30.0) -> PhoneEvent:
        """The next event of one of ``types`` (others are dropped)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PhoneError(f"phone {self.user}: no {'/'.join(types)} within {timeout:.0f} s")
            try:
                event = await asyncio.wait_for(self.events.get(), remaining)
            except TimeoutError:
                continue
            if event.type in types:
                return event

    async def registered(self, *, timeout: float = 30.0) -> None:
        """Wait until the phone's registration is accepted (asked with ``reginfo``: the ``REGISTER_OK``
        event may come before the control connection)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            info = re.sub(r"\x1b\[[0-9;]*m", "", str((await self.command("reginfo")).get("data", "")))
            if re.search(r"\bOK\b", info):
                return
            if loop.time() > deadline:
                raise PhoneError(f"phone {self.user} did not register: {info.strip()[:300]!r}")
            await asyncio.sleep(0.1)

    def forget_events(self) -> None:
        """Drop the events received so far (before waiting for those of a new call)."""
        while not self.events.empty():
            self.events.get_nowait()

    async def dial(self, extension: str) -> None:
        """Call ``extension`` on the hotline's Asterisk; earlier events are forgotten first."""
        self.forget_events()
        host, port = self.asterisk
        await self.command("dial", f"sip:{extension}@{host}:{port}")

    async def hang_up(self) -> None:
        await self.command("hangup")

    async def set_answer(self, answer: bool) -> None:
        await self.command("answermode", "auto" if answer else "manual")
        self.answer = answer

    async def stop(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self.command("quit", timeout=2)
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
