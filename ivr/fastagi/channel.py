"""`Channel`: the typed AGI commands of one FastAGI session. Business code never sees a reply line."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

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

__all__ = ["DEFAULT_COMMAND_TIMEOUT", "Channel", "DigitInput"]

DEFAULT_COMMAND_TIMEOUT = 300.0

_DEAD_CHANNEL = 511


@dataclass(frozen=True)
class DigitInput:
    """What the caller typed in `GET DATA`; `timed_out` when they stopped typing before `max_digits`."""

    digits: str
    timed_out: bool


class Channel:
    """One FastAGI session, over the reader/writer pair of its connection.

    A hang-up (`HANGUP` line, `511`, `result=-1` where it means hang-up, end of the connection) raises
    `CallerHungUp`, and so does every later command, without writing. Asterisk refusing a command (`510`,
    `520`) raises `AgiCommandError`. A reply that does not come within `command_timeout` seconds, or one that
    cannot be parsed, raises `AgiProtocolError` and leaves the session unusable.
    """

    def __init__(
        self,
        env: AgiEnvironment,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
    ) -> None:
        self.env = env
        self._reader = reader
        self._writer = writer
        self._command_timeout = command_timeout
        self._hung_up = False
        self._broken: str | None = None
        self._busy = False
        # One lazily re-armed timer per channel instead of one timer per command: `_deadline` is when the
        # pending reply is due; the watchdog, when it fires, re-arms itself for a later deadline or, if the
        # reply is overdue, aborts the connection, which wakes the waiting read.
        self._deadline: float | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._expired: str | None = None
        self._pending: tuple[str, float] = ("", 0.0)

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    def release(self) -> None:
        """Forget the reply deadline; the server calls this when the session ends."""
        self._deadline = None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

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
        self._busy = True
        self._arm(name, self._command_timeout if reply_timeout is None else reply_timeout)
        try:
            self._writer.write(line)
            await self._writer.drain()
            text = self._reply_line(await self._reader.readline())
            reply = parse_reply(text)
            if reply.code == 100 or reply_continues(text):
                reply = await self._read_multi_line(text)
        except ValueError:  # from readline: a line longer than the stream's limit
            self._broken = "AGI reply line too long"
            raise AgiProtocolError(self._broken) from None
        except (ConnectionError, CallerHungUp) as exc:
            if self._expired is not None:
                self._broken = self._expired
                raise AgiProtocolError(self._expired) from None
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
            self._deadline = None
        if reply.code == 200:
            return reply
        if reply.code == _DEAD_CHANNEL:
            self._hung_up = True
            raise CallerHungUp(f"{name}: {reply.text}")
        raise AgiCommandError(reply, f"{name}: {reply.text}")

    def _arm(self, name: str, limit: float) -> None:
        loop = asyncio.get_running_loop()
        self._deadline = deadline = loop.time() + limit
        self._pending = (name, limit)
        watchdog = self._watchdog
        if watchdog is not None and watchdog.when() <= deadline:
            return  # it fires first, then re-arms itself for this deadline
        if watchdog is not None:
            watchdog.cancel()
        self._watchdog = loop.call_at(deadline, self._on_watchdog)

    def _on_watchdog(self) -> None:
        self._watchdog = None
        if self._deadline is None:
            return  # no reply pending: the next command re-arms
        loop = asyncio.get_running_loop()
        if loop.time() < self._deadline:
            self._watchdog = loop.call_at(self._deadline, self._on_watchdog)
            return
        name, limit = self._pending
        self._expired = f"no reply to {name} within {limit:g} s"
        self._writer.transport.abort()  # wakes the read, which then raises AgiProtocolError

    @staticmethod
    def _reply_line(raw: bytes) -> str:
        if not raw.endswith(b"\n"):  # end of stream, possibly mid-line
            raise CallerHungUp("Asterisk closed the connection")
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if text == HANGUP_LINE or is_hangup_line(text):
            raise CallerHungUp("the caller hung up")
        return text

    async def _read_multi_line(self, first: str) -> AgiReply:
        """`100 Trying...` then the reply, or a multi-line `520-` reply."""
        assembler = ReplyAssembler()
        text = first
        while (reply := assembler.feed(text)) is None:
            text = self._reply_line(await self._reader.readline())
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
