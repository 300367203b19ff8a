"""`Channel`: the typed AGI commands of one FastAGI session. Business code never sees a reply line."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ivr.fastagi.errors import AgiCommandError, AgiProtocolError, CallerHungUp
from ivr.fastagi.protocol import (
    HANGUP_LINE,
    AgiEnvironment,
    AgiReply,
    ReplyAssembler,
    format_command,
    is_hangup_line,
    parse_reply,
    reply_continues,
)

if TYPE_CHECKING:
    from ivr.fastagi.connection import AgiConnection

__all__ = ["DEFAULT_COMMAND_TIMEOUT", "Channel", "DigitInput"]

DEFAULT_COMMAND_TIMEOUT = 300.0

_DEAD_CHANNEL = 511


def _reply_line(raw: bytes) -> str:
    if not raw.endswith(b"\n"):  # end of stream, possibly mid-line
        raise CallerHungUp("Asterisk closed the connection")
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    if HANGUP_LINE in text and is_hangup_line(text):
        raise CallerHungUp("the caller hung up")
    return text


@dataclass(frozen=True)
class DigitInput:
    """What the caller typed in `GET DATA`; `timed_out` when they stopped typing before `max_digits`."""

    digits: str
    timed_out: bool


class Channel:
    """One FastAGI session, over its connection.

    A hang-up (`HANGUP` line, `511`, `result=-1` where it means hang-up, end of the connection) raises
    `CallerHungUp`, and so does every later command, without writing. Asterisk refusing a command (`510`,
    `520`) raises `AgiCommandError`. A reply that does not come within `command_timeout` seconds, or one that
    cannot be parsed, raises `AgiProtocolError` and leaves the session unusable.
    """

    __slots__ = ("_broken", "_busy", "_command_timeout", "_connection", "_hung_up", "env")

    def __init__(
        self,
        env: AgiEnvironment,
        connection: AgiConnection,
        *,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
    ) -> None:
        self.env = env
        self._connection = connection
        self._command_timeout = command_timeout
        self._hung_up = False
        self._broken: str | None = None
        self._busy = False

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    # ------------------------------------------------------------------------------------------ low level

    async def command(self, name: str, *args: str | int, reply_timeout: float | None = None) -> AgiReply:
        """Send one command and return its `200` reply; `reply_timeout` overrides the channel's default."""
        line = format_command(name, *args)  # ValueError before anything is sent
        if self._busy:
            raise RuntimeError(f"{name}: another AGI command is still waiting for its reply on this channel")
        if self._hung_up:
            raise CallerHungUp(f"{name}: the channel has already hung up")
        if self._broken is not None:
            raise AgiProtocolError(f"{name}: session unusable after an earlier error ({self._broken})")
        connection = self._connection
        self._busy = True
        connection.expect_reply(name, self._command_timeout if reply_timeout is None else reply_timeout)
        try:
            connection.write(line)
            if connection.write_paused:
                await connection.drain()
            raw = connection.take_line()
            if raw is None:
                raw = await connection.wait_line()
            text = _reply_line(raw)
            reply = parse_reply(text)
            if reply.code != 200 and (reply.code == 100 or reply_continues(text)):
                reply = await self._read_multi_line(text)
        except (ConnectionError, CallerHungUp) as exc:
            if connection.expired is not None:
                self._broken = connection.expired
                raise AgiProtocolError(connection.expired) from None
            self._hung_up = True
            if isinstance(exc, CallerHungUp):
                raise
            raise CallerHungUp(f"{name}: connection lost ({exc})") from exc
        except AgiProtocolError as exc:
            self._broken = str(exc)
            raise
        except asyncio.CancelledError:
            # The reply may still come: it would be read as the answer to the next command.
            self._broken = f"{name} was cancelled"
            raise
        finally:
            self._busy = False
            connection.reply_received()
        if reply.code == 200:
            return reply
        if reply.code == _DEAD_CHANNEL:
            self._hung_up = True
            raise CallerHungUp(f"{name}: {reply.text}")
        raise AgiCommandError(reply, f"{name}: {reply.text}")

    async def _read_multi_line(self, first: str) -> AgiReply:
        """`100 Trying...` then the reply, or a multi-line `520-` reply."""
        assembler = ReplyAssembler()
        text = first
        while (reply := assembler.feed(text)) is None:
            raw = self._connection.take_line()
            if raw is None:
                raw = await self._connection.wait_line()
            text = _reply_line(raw)
        return reply

    def _hang_up_on_minus_one(self, name: str, reply: AgiReply) -> int:
        value = reply.result_int
        if value == -1:
            self._hung_up = True
            raise CallerHungUp(f"{name}: {reply.text}")
        return value

    def _digit(self, name: str, reply: AgiReply) -> str | None:
        """Decode a result that is the ASCII code of the digit pressed (0: none)."""
        value = self._hang_up_on_minus_one(name, reply)
        if value == 0:
            return None
        if not 32 < value < 127:
            raise AgiProtocolError(f"{name}: result is not a digit code: {reply.text!r}")
        return chr(value)

    # ------------------------------------------------------------------------------------------ commands

    async def answer(self) -> None:
        self._hang_up_on_minus_one("ANSWER", await self.command("ANSWER"))

    async def hangup(self) -> None:
        await self.command("HANGUP")
        self._hung_up = True

    async def stream_file(self, filename: str, escape_digits: str = "") -> str | None:
        """Play `filename` (no extension); return the escape digit pressed, or None if it played to the end.

        Asterisk answers `result=-1` both on hang-up and when the file does not exist; `CHANNEL STATUS`
        tells them apart: on a live channel (a state >= 0, where a dead one gets `HANGUP`/`511`) it is
        `AgiCommandError`, not `CallerHungUp`.
        """
        reply = await self.command("STREAM FILE", filename, escape_digits)
        if reply.result == "-1":
            status = await self.command("CHANNEL STATUS")
            if status.result_int >= 0:
                message = f"STREAM FILE {filename!r} failed on a live channel (missing file?)"
                raise AgiCommandError(reply, message)
            self._hung_up = True
            raise CallerHungUp(f"STREAM FILE: {reply.text}")
        return self._digit("STREAM FILE", reply)

    async def get_data(self, filename: str, timeout_ms: int, max_digits: int) -> DigitInput:
        """Play `filename` and collect up to `max_digits` digits (`#` ends the input early)."""
        reply = await self.command("GET DATA", filename, timeout_ms, max_digits)
        if reply.result == "-1":
            self._hung_up = True
            raise CallerHungUp(f"GET DATA: {reply.text}")
        return DigitInput(digits=reply.result, timed_out=reply.data == "timeout")

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        return self._digit("WAIT FOR DIGIT", await self.command("WAIT FOR DIGIT", timeout_ms))

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        return self._digit("SAY DIGITS", await self.command("SAY DIGITS", digits, escape_digits))

    async def get_variable(self, name: str) -> str | None:
        """The variable's value, or None when it is not set (`result=0`)."""
        reply = await self.command("GET VARIABLE", name)
        if reply.result == "0":
            return None
        return reply.data or ""

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, value)

    async def exec(self, application: str, *args: str) -> str:
        """Run a dialplan application; its arguments go as ONE argument joined by commas, which the
        application splits again (so a comma in a value separates arguments). Returns Asterisk's result
        (`-2`: no such application)."""
        if args:
            reply = await self.command("EXEC", application, ",".join(args))
        else:
            reply = await self.command("EXEC", application)
        return reply.result

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", message, level)
