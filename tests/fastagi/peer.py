"""A real socket peer playing Asterisk's side of FastAGI: it sends a header, answers commands with scripted
replies and records every command it received."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

#: Deadline for one step of the peer (a read, a close): long enough never to fire on a healthy run.
STEP_DEADLINE = 5.0


def agi_header(
    network_script: str,
    *,
    uniqueid: str = "1700000000.1",
    channel: str = "PJSIP/caller-00000001",
    callerid: str = "48600100200",
    arguments: Iterable[str] = (),
) -> bytes:
    """The header Asterisk 22 sends for `AGI(agi://127.0.0.1/<network_script>,<arguments>)`."""
    lines = [
        "agi_network: yes",
        f"agi_network_script: {network_script}",
        f"agi_request: agi://127.0.0.1/{network_script}",
        f"agi_channel: {channel}",
        "agi_language: pl",
        "agi_type: PJSIP",
        f"agi_uniqueid: {uniqueid}",
        "agi_version: 22.0.0",
        f"agi_callerid: {callerid}",
        "agi_calleridname: Jan Kowalski",
        "agi_callingpres: 0",
        "agi_callingani2: 0",
        "agi_callington: 0",
        "agi_callingtns: 0",
        "agi_dnid: 19524",
        "agi_rdnis: unknown",
        "agi_context: hotline-ivr",
        "agi_extension: 19524",
        "agi_priority: 3",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        "agi_threadid: 140234567890",
    ]
    lines += [f"agi_arg_{index}: {value}" for index, value in enumerate(arguments, start=1)]
    return ("\n".join(lines) + "\n\n").encode()


class AsteriskPeer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received: list[str] = []

    @classmethod
    async def connect(cls, port: int) -> AsteriskPeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_header(
        self,
        network_script: str,
        *,
        uniqueid: str = "1700000000.1",
        callerid: str = "48600100200",
        arguments: Iterable[str] = (),
    ) -> None:
        await self.send(agi_header(network_script, uniqueid=uniqueid, callerid=callerid, arguments=arguments))

    async def read_command(self) -> str | None:
        """The next command line the server sent (recorded), or None once the server closed."""
        async with asyncio.timeout(STEP_DEADLINE):
            raw = await self.reader.readline()
        if not raw:
            self.writer.close()  # the server is done with us
            return None
        line = raw.decode().removesuffix("\n")
        self.received.append(line)
        return line

    async def reply(self, *lines: str) -> None:
        await self.send("".join(f"{line}\n" for line in lines).encode())

    async def play(self, replies: Sequence[str | Sequence[str]]) -> None:
        """Answer the next commands, one reply (a line, or several lines) per command."""
        for reply in replies:
            command = await self.read_command()
            if command is None:
                raise AssertionError(f"server closed early; commands so far: {self.received}")
            await self.reply(*([reply] if isinstance(reply, str) else reply))

    async def finish(self, default_reply: str = "200 result=1", max_commands: int = 50) -> list[str]:
        """Answer whatever comes with `default_reply` until the server closes; return those commands."""
        extra: list[str] = []
        for _ in range(max_commands):
            command = await self.read_command()
            if command is None:
                return extra
            extra.append(command)
            await self.reply(default_reply)
        raise AssertionError(f"server still talking after {max_commands} commands: {extra}")

    async def wait_closed_by_server(self) -> bytes:
        """Read until the server closes the connection; return what it sent meanwhile."""
        async with asyncio.timeout(STEP_DEADLINE):
            rest = await self.reader.read()
        self.writer.close()
        return rest

    def shutdown_write(self) -> None:
        """Half-close: the server reads end-of-stream, we can still read its answer."""
        self.writer.write_eof()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass
