"""`AgiConnection`: the bytes of one FastAGI connection, as an asyncio protocol (no StreamReader/Writer).

It cuts the incoming bytes into the header and then reply lines, under byte limits, and runs the connection's
one timer: first the header deadline, then the deadline of the reply being waited for. A reply line is cut
in the read callback and handed to the one future the session waits on: no readline/readuntil/_wait_for_data
coroutines per line, no StreamReader, StreamWriter and their protocol per connection.

Reads go through `recv_into` a buffer the server shares between its connections (a `BufferedProtocol`),
instead of a fresh 256 KiB bytes object per read, shrunk afterwards, as a plain `Protocol` gets.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from ivr.fastagi.errors import AgiProtocolError
from ivr.fastagi.protocol import parse_header_line

__all__ = ["MAX_HEADER_BYTES", "MAX_LINE_BYTES", "RECEIVE_BUFFER_BYTES", "AgiConnection", "ConnectionOwner"]

#: Longest header, blank line included; also bounds the memory a connection can pin before it is a call.
MAX_HEADER_BYTES = 32768
#: Longest reply line, newline excluded.
MAX_LINE_BYTES = 32768
#: Size of the receive buffer a server shares between its connections (one `recv_into` reads at most this).
RECEIVE_BUFFER_BYTES = 65536
#: How long closing may wait for unsent data to drain before the socket is aborted.
CLOSE_TIMEOUT = 1.0

_HEADER, _SESSION, _CLOSED = 0, 1, 2


class ConnectionOwner(Protocol):
    """What a connection needs from its server."""

    loop: asyncio.AbstractEventLoop
    receive_buffer: memoryview
    header_timeout: float

    def connection_opened(self, connection: AgiConnection) -> bool:
        """A socket was accepted; False if the server is closing (the connection then aborts)."""

    def header_received(self, connection: AgiConnection, header: bytes) -> None:
        """The header arrived (up to and including its blank line): `begin_session` or `reject`."""

    def header_rejected(self, connection: AgiConnection, reason: str) -> None:
        """The connection did not send a usable header; it is being closed."""

    def connection_closed(self, connection: AgiConnection) -> None:
        """The socket is gone."""


class AgiConnection(asyncio.BufferedProtocol):
    """One FastAGI connection. Its session talks to it through `write`, `take_line`/`wait_line` and
    `expect_reply`; every failure of the socket reaches the waiting read, as an exception or an end of stream.
    """

    __slots__ = (
        "_buffer",
        "_deadline",
        "_drain_waiter",
        "_eof",
        "_error",
        "_first_line_checked",
        "_loop",
        "_owner",
        "_pending",
        "_read_paused",
        "_scan_from",
        "_stage",
        "_transport",
        "_waiter",
        "_watchdog",
        "_watchdog_at",
        "closed",
        "expired",
        "task",
        "write_paused",
    )

    def __init__(self, owner: ConnectionOwner) -> None:
        self._owner = owner
        self._loop = owner.loop
        self._transport: asyncio.Transport | None = None
        self._stage = _HEADER
        self._buffer = bytearray()
        self._first_line_checked = False
        self._scan_from = 0  # where to look for the blank line that ends the header
        self._eof = False
        self._error: ConnectionError | None = None
        self._read_paused = False
        self._waiter: asyncio.Future[bytes] | None = None
        self.write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        # One timer per connection, re-armed lazily: `_deadline` is when the header, or the pending reply, is
        # due; when the timer fires before that (an earlier deadline was met), it re-arms for the current one.
        self._deadline: float | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._watchdog_at = 0.0
        self._pending: tuple[str, float] = ("", 0.0)
        #: Why the connection was cut for want of a reply, once it was.
        self.expired: str | None = None
        #: The session task, once the header is in.
        self.task: asyncio.Task[None] | None = None
        #: True once the socket is gone.
        self.closed = False

    # ------------------------------------------------------------------------------------------ the socket

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if not self._owner.connection_opened(self):
            self.abort()
            return
        self._arm(self._loop.time() + self._owner.header_timeout)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._owner.receive_buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self._stage == _CLOSED:
            return
        self._buffer += self._owner.receive_buffer[:nbytes]
        if self._stage == _HEADER:
            self._scan_header()
        elif self._waiter is not None:
            self._wake()
        elif len(self._buffer) > 2 * MAX_LINE_BYTES and not self._read_paused and self._transport is not None:
            # Lines nobody asked for pile up: stop reading until the session takes some.
            self._read_paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        if self._stage == _HEADER:
            where = "before the end of the header"
            if self._buffer and not self._buffer.endswith(b"\n"):
                where = "in the middle of a header line"
            self.reject(f"closed {where} ({len(self._buffer)} bytes received)")
            return False
        self._wake()
        return True  # the session may still write (and finds out at its next read)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self._error is None:
            self._error = exc if isinstance(exc, ConnectionError) else ConnectionResetError(str(exc))
        self._eof = True
        if self._stage == _HEADER:
            if exc is not None:
                self.reject(f"connection lost during the header ({exc})")
            else:
                self.reject(f"closed before the end of the header ({len(self._buffer)} bytes received)")
        self._stage = _CLOSED
        self.closed = True
        self._cancel_watchdog()
        self._wake()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_exception(self._error or ConnectionResetError("connection lost"))
        self._owner.connection_closed(self)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    # ------------------------------------------------------------------------------------------ the header

    def _scan_header(self) -> None:
        buffer = self._buffer
        if buffer.startswith(b"\n"):  # an empty header: nothing but the blank line
            size = 1
        else:
            blank = buffer.find(b"\n\n", self._scan_from)
            if blank < 0:
                if len(buffer) > MAX_HEADER_BYTES:
                    self.reject(f"header longer than {MAX_HEADER_BYTES} bytes")
                    return
                self._scan_from = len(buffer) - 1
                if not self._first_line_checked and (end := buffer.find(b"\n")) >= 0:
                    # Garbage (HTTP, TLS...) is rejected at once, without waiting for a blank line that may
                    # never come. (A complete header is checked whole, by the owner.)
                    self._first_line_checked = True
                    try:
                        parse_header_line(buffer[:end].decode("utf-8", errors="replace"))
                    except AgiProtocolError as exc:
                        self.reject(str(exc))
                return
            size = blank + 2
        if size > MAX_HEADER_BYTES:
            self.reject(f"header longer than {MAX_HEADER_BYTES} bytes")
            return
        header = bytes(buffer[:size])
        del buffer[:size]
        self._owner.header_received(self, header)  # calls `begin_session` or `reject`

    def begin_session(self, task: asyncio.Task[None]) -> None:
        """The header was accepted: from now on the bytes are reply lines, read by `task`."""
        self.task = task
        self._stage = _SESSION
        self._deadline = None

    def reject(self, reason: str) -> None:
        """Give up on a connection that did not send a usable header: tell the owner, close."""
        if self._stage != _HEADER:
            return
        self._stage = _CLOSED
        self._cancel_watchdog()
        self._owner.header_rejected(self, reason)
        if self._transport is not None:
            self._transport.close()

    def _header_progress(self) -> str:
        lines = self._buffer.count(b"\n")
        if lines == 0:
            return "part of a line" if self._buffer else "nothing"
        return "one line" if lines == 1 else "some lines"

    # ------------------------------------------------------------------------------------------ the session

    @property
    def peer(self) -> str:
        peer = self._transport.get_extra_info("peername") if self._transport is not None else None
        if isinstance(peer, tuple) and len(peer) >= 2:
            return f"{peer[0]}:{peer[1]}"
        return str(peer)

    def write(self, data: bytes) -> None:
        """Send `data`; `ConnectionResetError` once the connection is gone or being closed."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("connection lost")
        transport.write(data)

    async def drain(self) -> None:
        """Wait until the socket takes our data again (only needed while `write_paused`)."""
        if self.write_paused:
            self._drain_waiter = self._loop.create_future()
            await self._drain_waiter

    def take_line(self) -> bytes | None:
        """The next line, newline included; at the end of the stream what is left (without a newline,
        possibly b""); None when the line has not arrived yet.

        Raises `AgiProtocolError` for a line longer than `MAX_LINE_BYTES`, after an expiry, and
        `ConnectionError` when the socket failed."""
        buffer = self._buffer
        end = buffer.find(b"\n")
        if end > MAX_LINE_BYTES or (end < 0 and len(buffer) > MAX_LINE_BYTES):
            raise AgiProtocolError("AGI reply line too long")
        if end >= 0:
            line = bytes(buffer[: end + 1])
            del buffer[: end + 1]
            if self._read_paused and len(buffer) <= MAX_LINE_BYTES:
                self._read_paused = False
                if self._transport is not None:
                    self._transport.resume_reading()
            return line
        if self.expired is not None:
            raise AgiProtocolError(self.expired)
        if self._error is not None:
            raise self._error
        if self._eof:
            line = bytes(buffer)
            buffer.clear()
            return line
        return None

    def wait_line(self) -> asyncio.Future[bytes]:
        """A future for the next line, when `take_line` returned None."""
        self._waiter = waiter = self._loop.create_future()
        return waiter

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            self._waiter = None
            return
        try:
            line = self.take_line()
        except (AgiProtocolError, ConnectionError) as exc:
            self._waiter = None
            waiter.set_exception(exc)
            return
        if line is not None:
            self._waiter = None
            waiter.set_result(line)

    def expect_reply(self, name: str, limit: float) -> None:
        """The reply to command `name` is due within `limit` seconds; past that the connection is cut."""
        self._pending = (name, limit)
        self._deadline = deadline = self._loop.time() + limit
        if self._watchdog is None or self._watchdog_at > deadline:
            self._arm(deadline)

    def reply_received(self) -> None:
        self._deadline = None

    def close(self) -> None:
        """Close after sending what is buffered; a peer that does not read it within a second is cut off."""
        self._cancel_watchdog()
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.close()
        if transport.get_write_buffer_size():
            self._loop.call_later(CLOSE_TIMEOUT, transport.abort)

    def abort(self) -> None:
        """Cut the connection at once; a header still awaited is dropped without a rejection."""
        if self._stage == _HEADER:
            self._stage = _CLOSED
        self._cancel_watchdog()
        if self._transport is not None:
            self._transport.abort()

    # ------------------------------------------------------------------------------------------ the timer

    def _arm(self, deadline: float) -> None:
        self._deadline = deadline
        watchdog = self._watchdog
        if watchdog is not None:
            if self._watchdog_at <= deadline:
                return  # it fires first, then re-arms itself for this deadline
            watchdog.cancel()
        self._watchdog = self._loop.call_at(deadline, self._on_watchdog)
        self._watchdog_at = deadline

    def _on_watchdog(self) -> None:
        self._watchdog = None
        deadline = self._deadline
        if deadline is None:
            return  # nothing due: the next command re-arms
        if self._loop.time() < deadline:
            self._arm(deadline)
            return
        if self._stage == _HEADER:
            timeout = self._owner.header_timeout
            self.reject(f"no complete header within {timeout:g} s ({self._header_progress()} received)")
            return
        name, limit = self._pending
        self.expired = f"no reply to {name} within {limit:g} s"
        self._wake()  # the waiting read raises AgiProtocolError
        self.abort()

    def _cancel_watchdog(self) -> None:
        self._deadline = None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
