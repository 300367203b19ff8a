"""`AudioSocketServer`: accepts Asterisk's ``AudioSocket()`` connections and hands each to the call waiting
for it.

The IVR asks a spoken question by calling :meth:`AudioSocketServer.expect` with a fresh call id, then running
``AudioSocket(<call id>,127.0.0.1:<port>)`` on the channel (an AGI ``EXEC``, which blocks that AGI session
until the stream ends). The connection that introduces itself with that id is handed over as an
:class:`AudioStream`; one that is not expected, introduces itself late or breaks the protocol is closed and
logged here, and nobody else notices. :meth:`AudioStream.close` sends the hang-up frame, which ends the
application cleanly: the AGI command returns and the IVR goes on.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import uuid
from collections.abc import Iterator
from types import TracebackType

from hotline.loopback import is_loopback
from ivr.speech.audiosocket import (
    DEFAULT_MAX_PAYLOAD,
    Audio,
    AudioSocketProtocolError,
    Dtmf,
    ErrorReport,
    FrameParser,
    Hangup,
    Message,
    StreamId,
    encode_audio,
    encode_hangup,
)

__all__ = ["AudioSocketServer", "AudioSocketTimeout", "AudioStream", "ExpectedStream"]

log = logging.getLogger(__name__)

_READ_BYTES = 4096
_CLOSE_TIMEOUT = 1.0


class AudioSocketTimeout(Exception):
    """Nothing came from the peer (or no connection came) within the time allowed."""


class AudioStream:
    """One call's AudioSocket connection: audio and keys from the caller, audio to them."""

    def __init__(
        self,
        call_id: uuid.UUID,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        parser: FrameParser,
        queued: collections.deque[Message],
    ) -> None:
        self.call_id = call_id
        self._reader = reader
        self._writer = writer
        self._parser = parser
        self._queued = queued
        self._ended = False

    @property
    def ended(self) -> bool:
        return self._ended

    async def receive(self, timeout: float) -> Audio | Dtmf | None:
        """The next audio frame or key; None once the peer has ended the stream (hang-up frame, error
        report, clean close). Raises :class:`AudioSocketTimeout` when nothing came within ``timeout``
        seconds, :class:`AudioSocketProtocolError` on a broken stream (garbage, a half frame at the end)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while self._queued:
                message = self._queued.popleft()
                if isinstance(message, Audio | Dtmf):
                    return message
                if isinstance(message, Hangup | ErrorReport):
                    if isinstance(message, ErrorReport):
                        log.info("AudioSocket %s: Asterisk reports error %s", self.call_id, message.code)
                    self._ended = True
                    self._queued.clear()
                    return None
                raise AudioSocketProtocolError(f"a second call id in the stream ({message})")
            if self._ended:
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AudioSocketTimeout(f"nothing from Asterisk within {timeout:g} s")
            try:
                async with asyncio.timeout(remaining):
                    data = await self._reader.read(_READ_BYTES)
            except TimeoutError:
                raise AudioSocketTimeout(f"nothing from Asterisk within {timeout:g} s") from None
            except ConnectionError:
                data = b""
            if not data:
                self._ended = True
                self._parser.finish()  # raises on a half frame
                return None
            self._queued.extend(self._parser.feed(data))

    async def send_audio(self, pcm: bytes) -> None:
        if self._ended or self._writer.is_closing():
            return
        self._writer.write(encode_audio(pcm))
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()

    async def close(self) -> None:
        """End the stream: the hang-up frame (``AudioSocket()`` then returns 0), then the connection."""
        self._ended = True
        writer = self._writer
        if writer.is_closing():
            return
        with contextlib.suppress(ConnectionError):
            writer.write(encode_hangup())
        writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await writer.wait_closed()
        if not writer.transport.is_closing():
            writer.transport.abort()

    def abort(self) -> None:
        self._ended = True
        self._writer.transport.abort()


class ExpectedStream:
    """A call waiting for its AudioSocket connection. Leaving the ``with`` block stops waiting, and cuts a
    stream handed over that is still open (its owner closes it properly before: :meth:`AudioStream.close`)."""

    def __init__(self, server: AudioSocketServer, call_id: uuid.UUID) -> None:
        self.server = server
        self.call_id = call_id
        self.future: asyncio.Future[AudioStream] = asyncio.get_running_loop().create_future()

    async def connected(self, timeout: float) -> AudioStream:
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(self.future)
        except TimeoutError:
            message = f"no AudioSocket connection for {self.call_id} within {timeout:g} s"
            raise AudioSocketTimeout(message) from None

    def __enter__(self) -> ExpectedStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server._forget(self)


class AudioSocketServer:
    """Loopback AudioSocket server (``audiosocket_port``); see the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        id_timeout: float = 2.0,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        allow_remote: bool = False,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"AudioSocket listens on loopback only, not {host!r} (allow_remote=True overrides)"
            )
        self._host = host
        self._requested_port = port
        self._id_timeout = id_timeout
        self._max_payload = max_payload
        self._server: asyncio.Server | None = None
        self._expected: dict[uuid.UUID, ExpectedStream] = {}
        self._handshakes: set[asyncio.Task[None]] = set()
        self.rejected = 0  # connections refused (unknown id, late, garbage): for tests and figures

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("AudioSocketServer already started")
        self._server = await asyncio.start_server(self._on_connection, self._host, self._requested_port)
        log.info("AudioSocket listening on %s:%d", self._host, self.port)

    @property
    def address(self) -> str:
        """``host:port`` as ``AudioSocket()`` takes it."""
        return f"{self._host}:{self.port}"

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("AudioSocketServer is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for expected in list(self._expected.values()):
            expected.future.cancel()
        self._expected.clear()
        while self._handshakes:
            tasks = list(self._handshakes)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    def expect(self, call_id: uuid.UUID | None = None) -> ExpectedStream:
        """Wait for the connection that introduces itself with ``call_id`` (a fresh one when None)."""
        call_id = call_id or uuid.uuid4()
        if call_id in self._expected:
            raise ValueError(f"a stream for {call_id} is already expected")
        expected = ExpectedStream(self, call_id)
        self._expected[call_id] = expected
        return expected

    @property
    def waiting(self) -> Iterator[uuid.UUID]:
        return iter(self._expected)

    def _forget(self, expected: ExpectedStream) -> None:
        if self._expected.get(expected.call_id) is expected:
            del self._expected[expected.call_id]
        if not expected.future.done():
            expected.future.cancel()
        elif not expected.future.cancelled() and not (stream := expected.future.result()).ended:
            stream.abort()

    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._handshake(reader, writer), name="audiosocket handshake")
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = FrameParser(max_payload=self._max_payload)
        queued: collections.deque[Message] = collections.deque()
        peer = writer.get_extra_info("peername")
        try:
            async with asyncio.timeout(self._id_timeout):
                while not queued:
                    data = await reader.read(_READ_BYTES)
                    if not data:
                        parser.finish()
                        raise AudioSocketProtocolError("closed before its call id")
                    queued.extend(parser.feed(data))
        except TimeoutError:
            self._reject(writer, f"{peer}: no call id within {self._id_timeout:g} s")
            return
        except AudioSocketProtocolError as exc:
            self._reject(writer, f"{peer}: {exc}")
            return
        except ConnectionError as exc:
            self._reject(writer, f"{peer}: connection lost before its call id ({exc})")
            return
        first = queued.popleft()
        if not isinstance(first, StreamId):
            self._reject(writer, f"{peer}: the first frame is {type(first).__name__}, not the call id")
            return
        expected = self._expected.pop(first.call_id, None)
        if expected is None or expected.future.done():
            self._reject(writer, f"{peer}: nobody waits for call id {first.call_id}")
            return
        expected.future.set_result(AudioStream(first.call_id, reader, writer, parser, queued))

    def _reject(self, writer: asyncio.StreamWriter, reason: str) -> None:
        self.rejected += 1
        log.warning("AudioSocket connection refused: %s", reason)
        with contextlib.suppress(ConnectionError):
            writer.write(encode_hangup())
        writer.close()
        if writer.transport.get_write_buffer_size():
            asyncio.get_running_loop().call_later(_CLOSE_TIMEOUT, writer.transport.abort)
