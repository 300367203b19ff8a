"""`FastAgiServer`: accepts Asterisk's FastAGI connections and runs one route per call.

Every failure of a session ends at this edge, with one log line carrying the call's uniqueid; the rest of
the server never notices. What the dialplan sees: the connection closes, and when the route could not do its
job, `HOTLINE_AGI_ERROR` is set (`unknown-route` or `exception`) so that the dialplan falls back to a queue.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType

from hotline.loopback import is_loopback
from ivr.fastagi.channel import DEFAULT_COMMAND_TIMEOUT, Channel
from ivr.fastagi.connection import MAX_HEADER_BYTES, RECEIVE_BUFFER_BYTES, AgiConnection
from ivr.fastagi.context import current_uniqueid
from ivr.fastagi.errors import AgiError, AgiProtocolError, CallerHungUp
from ivr.fastagi.protocol import AgiEnvironment

__all__ = ["ERROR_VARIABLE", "MAX_HEADER_BYTES", "FastAgiServer", "Route"]

log = logging.getLogger(__name__)

Route = Callable[[Channel], Awaitable[None]]

#: Channel variable set when the route could not do its job; the dialplan branches on it.
ERROR_VARIABLE = "HOTLINE_AGI_ERROR"
#: Longest header line.
MAX_HEADER_LINE_CHARS = 8192
#: How long the best-effort `SET VARIABLE HOTLINE_AGI_ERROR` may wait for its reply.
_REPORT_TIMEOUT = 5.0
_BACKLOG = 1024


class _HeaderRejected(Exception):
    """Internal: the connection did not send a usable AGI header."""


class FastAgiServer:
    """Serves `routes` (route name = path of `agi://host:port/<route>?query`) to Asterisk's FastAGI."""

    #: The loop the server was started in (connections use it, saving a lookup per connection).
    loop: asyncio.AbstractEventLoop

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
        if not allow_remote and not is_loopback(host):
            raise ValueError(f"FastAGI listens on loopback only, not {host!r} (allow_remote=True overrides)")
        for name, route in routes.items():
            if not callable(route):
                raise TypeError(f"route {name!r} is not callable")
        self._routes: dict[str, Route] = {name.lstrip("/"): route for name, route in routes.items()}
        self._host = host
        self._requested_port = port
        self.header_timeout = header_timeout
        self._command_timeout = command_timeout
        self._max_header_lines = max_header_lines
        self._server: asyncio.Server | None = None
        self._accepting = False
        # A connection stays here from its accept until its socket is gone and its session task has ended.
        self._connections: set[AgiConnection] = set()
        #: Every connection reads into this buffer, then copies out what it received (see `AgiConnection`).
        self.receive_buffer = memoryview(bytearray(RECEIVE_BUFFER_BYTES))

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FastAgiServer already started")
        self.loop = asyncio.get_running_loop()
        self._accepting = True
        self._server = await self.loop.create_server(
            self._new_connection, self._host, self._requested_port, backlog=_BACKLOG
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
        return len(self._connections)

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self) -> None:
        """Stop listening, cancel every session and wait for them to finish."""
        server, self._server = self._server, None
        self._accepting = False
        if server is not None:
            server.close()
        while self._connections:
            sessions: list[asyncio.Task[None]] = []
            for connection in list(self._connections):
                task = connection.task
                if task is not None and not task.done():
                    task.cancel()
                    sessions.append(task)
                else:
                    connection.abort()
            await asyncio.gather(*sessions, return_exceptions=True)
            await asyncio.sleep(0)  # aborted sockets report their loss on the next turn of the loop
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

    # ------------------------------------------------------------------------------------------ connections
    # `AgiConnection` calls these from the event loop, with the bytes already cut into a header.

    def _new_connection(self) -> AgiConnection:
        return AgiConnection(self)

    def connection_opened(self, connection: AgiConnection) -> bool:
        if self._accepting:
            self._connections.add(connection)
        return self._accepting

    def header_received(self, connection: AgiConnection, header: bytes) -> None:
        try:
            env = self._parse_header(header)
        except _HeaderRejected as exc:
            connection.reject(str(exc))
            return
        name = f"fastagi {env.uniqueid} {connection.peer}"
        connection.begin_session(self.loop.create_task(self._session(connection, env), name=name))

    def header_rejected(self, connection: AgiConnection, reason: str) -> None:
        log.warning("FastAGI connection from %s rejected: %s", connection.peer, reason)

    def connection_closed(self, connection: AgiConnection) -> None:
        if connection.task is None or connection.task.done():
            self._connections.discard(connection)

    def _parse_header(self, header: bytes) -> AgiEnvironment:
        text = header.decode("utf-8", errors="replace")[:-1]  # without the blank line's newline
        if text.count("\n") > self._max_header_lines:
            raise _HeaderRejected(f"more than {self._max_header_lines} header lines")
        # A line has at most as many characters as bytes: a short header needs no line-by-line check.
        if len(header) > MAX_HEADER_LINE_CHARS and max(map(len, text.split("\n"))) > MAX_HEADER_LINE_CHARS:
            raise _HeaderRejected(f"header line longer than {MAX_HEADER_LINE_CHARS} characters")
        try:
            return AgiEnvironment.from_header(text)
        except AgiProtocolError as exc:
            raise _HeaderRejected(str(exc)) from None

    # ------------------------------------------------------------------------------------------ sessions

    async def _session(self, connection: AgiConnection, env: AgiEnvironment) -> None:
        current_uniqueid.set(env.uniqueid)
        try:
            await self._run(env, Channel(env, connection, command_timeout=self._command_timeout))
        except Exception:
            log.exception("FastAGI session task failed")
        finally:
            connection.close()
            if connection.closed:
                self._connections.discard(connection)

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
