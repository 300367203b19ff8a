"""`FastAgiServer`: accepts Asterisk's FastAGI connections and runs one route per call.

Every failure of a session ends at this edge, with one log line carrying the call's uniqueid; the rest of
the server never notices. What the dialplan sees: the connection closes, and when the route could not do its
job, `HOTLINE_AGI_ERROR` is set (`unknown-route` or `exception`) so that the dialplan falls back to a queue.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType

from ivr.fastagi.channel import DEFAULT_COMMAND_TIMEOUT, Channel
from ivr.fastagi.context import current_uniqueid
from ivr.fastagi.errors import AgiError, AgiProtocolError, CallerHungUp
from ivr.fastagi.protocol import AgiEnvironment, parse_header_line

__all__ = ["ERROR_VARIABLE", "MAX_HEADER_BYTES", "FastAgiServer", "Route"]

log = logging.getLogger(__name__)

Route = Callable[[Channel], Awaitable[None]]

#: Channel variable set when the route could not do its job; the dialplan branches on it.
ERROR_VARIABLE = "HOTLINE_AGI_ERROR"
#: Longest header, and longest reply line, read from Asterisk; also bounds the memory one connection can pin.
MAX_HEADER_BYTES = 32768
#: Longest header line.
MAX_HEADER_LINE_CHARS = 8192
#: How long the best-effort `SET VARIABLE HOTLINE_AGI_ERROR` may wait for its reply.
_REPORT_TIMEOUT = 5.0
#: How long closing a connection may wait for unsent data to drain before the socket is aborted.
_CLOSE_TIMEOUT = 1.0
_BACKLOG = 1024


class _HeaderRejected(Exception):
    """Internal: the connection did not send a usable AGI header."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def _close(writer: asyncio.StreamWriter) -> None:
    """Close after sending what is buffered; a peer that does not read it within a second is cut off."""
    writer.close()
    transport = writer.transport
    if transport.get_write_buffer_size():
        asyncio.get_running_loop().call_later(_CLOSE_TIMEOUT, transport.abort)


class FastAgiServer:
    """Serves `routes` (route name = path of `agi://host:port/<route>?query`) to Asterisk's FastAGI."""

    def __init__(
        self,
        routes: Mapping[str, Route],
        host: str = "127.0.0.1",
        port: int = 4573,
        *,
        header_timeout: float = 5.0,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        max_header_lines: int = 200,
        allow_remote: bool = False,
    ) -> None:
        if not allow_remote and not _is_loopback(host):
            raise ValueError(f"FastAGI listens on loopback only, not {host!r} (allow_remote=True overrides)")
        for name, route in routes.items():
            if not callable(route):
                raise TypeError(f"route {name!r} is not callable")
        self._routes: dict[str, Route] = {name.lstrip("/"): route for name, route in routes.items()}
        self._host = host
        self._requested_port = port
        self._header_timeout = header_timeout
        self._command_timeout = command_timeout
        self._max_header_lines = max_header_lines
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FastAgiServer already started")
        self._server = await asyncio.start_server(
            self._on_connection, self._host, self._requested_port, limit=MAX_HEADER_BYTES, backlog=_BACKLOG
        )
        routes = ", ".join(sorted(self._routes))
        log.info("FastAGI listening on %s:%d, routes: %s", self._host, self.port, routes)

    @property
    def port(self) -> int:
        """The bound port (useful with `port=0`)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("FastAgiServer is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def session_count(self) -> int:
        """Connections being served right now (header being read or route running)."""
        return len(self._sessions)

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self) -> None:
        """Stop listening, cancel every session and wait for them to finish."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        while self._sessions:
            sessions = list(self._sessions)
            for task in sessions:
                task.cancel()
            await asyncio.gather(*sessions, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> FastAgiServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------------------------------ sessions

    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._session(reader, writer), name=f"fastagi {_peer_name(writer)}")
        self._sessions.add(task)
        task.add_done_callback(self._session_done)

    def _session_done(self, task: asyncio.Task[None]) -> None:
        self._sessions.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("FastAGI session task failed", exc_info=exc)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                env = await self._read_environment(reader)
            except _HeaderRejected as exc:
                log.warning("FastAGI connection from %s rejected: %s", _peer_name(writer), exc)
                return
            current_uniqueid.set(env.uniqueid)
            channel = Channel(env, reader, writer, command_timeout=self._command_timeout)
            try:
                await self._run(env, channel)
            finally:
                channel.release()
        finally:
            _close(writer)

    async def _read_environment(self, reader: asyncio.StreamReader) -> AgiEnvironment:
        """Read and parse the header: three reads whatever its size; the first line is checked at once."""
        received = "nothing"
        header = b""
        try:
            async with asyncio.timeout(self._header_timeout):
                header = await reader.readline()
                if not header.endswith(b"\n"):
                    where = "in the middle of a header line" if header else "before the end of the header"
                    raise _HeaderRejected(f"closed {where} ({len(header)} bytes received)")
                if header.strip():
                    parse_header_line(header.decode("utf-8", errors="replace"))  # garbage: rejected at once
                    received = "one line"
                    header += await reader.readexactly(1)
                    if not header.endswith(b"\n\n"):  # else the header had one line
                        received = "some lines"
                        header += await reader.readuntil(b"\n\n")
        except TimeoutError:
            raise _HeaderRejected(
                f"no complete header within {self._header_timeout:g} s ({received} received)"
            ) from None
        except asyncio.IncompleteReadError as exc:
            where = "before the end of the header"
            if exc.partial and not exc.partial.endswith(b"\n"):
                where = "in the middle of a header line"
            raise _HeaderRejected(
                f"closed {where} ({len(header) + len(exc.partial)} bytes received)"
            ) from None
        except (asyncio.LimitOverrunError, ValueError):
            raise _HeaderRejected(f"header longer than {MAX_HEADER_BYTES} bytes") from None
        except AgiProtocolError as exc:
            raise _HeaderRejected(str(exc)) from None
        except ConnectionError as exc:
            raise _HeaderRejected(f"connection lost during the header ({exc})") from None

        lines = header.decode("utf-8", errors="replace").split("\n")[:-2]
        if len(lines) > self._max_header_lines:
            raise _HeaderRejected(f"more than {self._max_header_lines} header lines")
        if max(map(len, lines), default=0) > MAX_HEADER_LINE_CHARS:
            raise _HeaderRejected(f"header line longer than {MAX_HEADER_LINE_CHARS} characters")
        try:
            return AgiEnvironment.from_lines(lines)
        except AgiProtocolError as exc:
            raise _HeaderRejected(str(exc)) from None

    async def _run(self, env: AgiEnvironment, channel: Channel) -> None:
        route = self._routes.get(env.route)
        if route is None:
            log.warning(
                "unknown FastAGI route %r (network_script=%r, channel=%s): setting %s=unknown-route",
                env.route,
                env.network_script,
                env.channel,
                ERROR_VARIABLE,
            )
            await self._report_error(channel, "unknown-route")
            return
        log.debug("session start route=%s channel=%s", env.route, env.channel)
        started = time.monotonic()
        outcome = "ok"
        try:
            result = route(channel)
            if not inspect.isawaitable(result):
                raise TypeError(f"route {env.route!r} returned {type(result).__name__}, not an awaitable")
            await result
        except CallerHungUp as exc:
            outcome = "hung-up"
            log.info("caller hung up during route=%s: %s", env.route, exc)
        except AgiError as exc:
            outcome = "agi-error"
            log.warning("route=%s stopped by %s: %s", env.route, type(exc).__name__, exc)
            await self._report_error(channel, "exception")
        except Exception:
            outcome = "exception"
            log.exception("route=%s raised", env.route)
            await self._report_error(channel, "exception")
        except asyncio.CancelledError:
            outcome = "cancelled"  # the server is closing
            raise
        finally:
            duration_ms = round((time.monotonic() - started) * 1000)
            log.info("session end route=%s duration_ms=%d outcome=%s", env.route, duration_ms, outcome)

    async def _report_error(self, channel: Channel, code: str) -> None:
        """Best effort: tell the dialplan, through `HOTLINE_AGI_ERROR`, to fall back."""
        if channel.hung_up:
            return
        try:
            await channel.command(
                "SET VARIABLE",
                ERROR_VARIABLE,
                code,
                reply_timeout=min(self._command_timeout, _REPORT_TIMEOUT),
            )
        except (AgiError, RuntimeError) as exc:  # RuntimeError: a task of the route still holds the channel
            log.info("could not set %s=%s: %s", ERROR_VARIABLE, code, exc)
