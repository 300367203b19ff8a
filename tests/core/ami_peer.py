"""A socket peer playing Asterisk's AMI for the client's tests (the ``fake_ami`` fixture in conftest.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class FakeAmi:
    """A socket peer speaking just enough AMI: banner, Login, Ping; any other action is recorded and
    answered with success. It can push raw bytes and hang up."""

    answer_pings: bool = True
    logins: int = 0
    # Every action other than Login and Ping, as its headers, in the order received.
    actions: list[dict[str, str]] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    logged_in: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.split(": ", 1) for line in block.decode().strip().split("\r\n") if ": " in line
                )
                action, action_id = headers.get("Action", "").lower(), headers.get("ActionID", "")
                if action == "login":
                    self.logins += 1
                    writer.write(
                        f"Response: Success\r\nActionID: {action_id}\r\nMessage: ok\r\n\r\n".encode()
                    )
                    writer.write(b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n")
                    self.logged_in.set()
                elif action == "ping":
                    if self.answer_pings:
                        writer.write(
                            f"Response: Success\r\nActionID: {action_id}\r\nPing: Pong\r\n\r\n".encode()
                        )
                elif action:
                    self.actions.append(headers)
                    writer.write(f"Response: Success\r\nActionID: {action_id}\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    def push(self, data: bytes) -> None:
        self.writers[-1].write(data)

    def drop(self) -> None:
        self.writers[-1].close()


def newexten(uniqueid: str, priority: int = 1) -> bytes:
    return (
        f"Event: Newexten\r\nUniqueid: {uniqueid}\r\nLinkedid: {uniqueid}\r\nChannel: PJSIP/x\r\n"
        f"Context: hotline\r\nExtension: 19524\r\nPriority: {priority}\r\nCallerIDNum: 600\r\n\r\n"
    ).encode()
