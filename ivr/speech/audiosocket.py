"""The AudioSocket protocol of Asterisk's ``AudioSocket()`` application, as a pure module (bytes in, messages
out; no sockets).

A frame is a 1-byte kind, a 2-byte big-endian payload length and the payload. Asterisk 22
(``res_audiosocket``, ``app_audiosocket``) sends, in this order: one ``UUID`` frame (the 16 bytes of the
call id given to the application), then ``AUDIO`` frames (signed 16-bit little-endian linear PCM, 8 kHz for
the dialplan application: 320 bytes per 20 ms) and ``DTMF`` frames (one ASCII digit) as they come from the
channel. It accepts ``HANGUP`` (ends the application cleanly: the dialplan, or the AGI, goes on) and
audio from the server. Kinds 0x11-0x18 carry audio at higher rates (12 to 192 kHz); ``ERROR`` carries
an optional code.

:class:`FrameParser` takes bytes as they arrive and returns whole messages; a frame that breaks the protocol
(an unknown kind, a payload over the limit, a payload that does not fit its kind) raises
:class:`AudioSocketProtocolError`, and the parser refuses everything after it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "DTMF_DIGITS",
    "FRAME_BYTES_8K",
    "HEADER_BYTES",
    "Audio",
    "AudioSocketProtocolError",
    "Dtmf",
    "ErrorReport",
    "FrameParser",
    "Hangup",
    "Kind",
    "Message",
    "StreamId",
    "encode_audio",
    "encode_dtmf",
    "encode_error",
    "encode_hangup",
    "encode_uuid",
]

HEADER_BYTES = 3
#: 20 ms of 8 kHz 16-bit mono audio.
FRAME_BYTES_8K = 320
#: Longest payload accepted: 20 ms at 192 kHz is 7680 bytes; anything longer is not a frame Asterisk sends.
DEFAULT_MAX_PAYLOAD = 8192
DTMF_DIGITS = "0123456789*#ABCD"


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10  # 8 kHz
    AUDIO_12K = 0x11
    AUDIO_16K = 0x12
    AUDIO_24K = 0x13
    AUDIO_32K = 0x14
    AUDIO_44K = 0x15
    AUDIO_48K = 0x16
    AUDIO_96K = 0x17
    AUDIO_192K = 0x18
    ERROR = 0xFF


AUDIO_RATES: dict[Kind, int] = {
    Kind.AUDIO: 8000,
    Kind.AUDIO_12K: 12000,
    Kind.AUDIO_16K: 16000,
    Kind.AUDIO_24K: 24000,
    Kind.AUDIO_32K: 32000,
    Kind.AUDIO_44K: 44100,
    Kind.AUDIO_48K: 48000,
    Kind.AUDIO_96K: 96000,
    Kind.AUDIO_192K: 192000,
}
_KINDS = {kind.value: kind for kind in Kind}


class AudioSocketProtocolError(Exception):
    """The peer broke the AudioSocket protocol; the message says how (and where in the stream)."""


@dataclass(frozen=True)
class StreamId:
    """The call id Asterisk was given (``AudioSocket(<uuid>,host:port)``): the first frame of a stream."""

    call_id: uuid.UUID


@dataclass(frozen=True)
class Audio:
    pcm: bytes  # signed 16-bit little-endian mono
    rate: int = 8000


@dataclass(frozen=True)
class Dtmf:
    digit: str


@dataclass(frozen=True)
class Hangup:
    """The peer ends the stream (Asterisk: the channel is going away)."""


@dataclass(frozen=True)
class ErrorReport:
    """Asterisk reports an error: 0x01 the caller hung up, 0x02 a frame could not be forwarded, 0x04 out
    of memory."""

    code: int | None


Message = StreamId | Audio | Dtmf | Hangup | ErrorReport


def _decode(kind: Kind, payload: bytes, offset: int) -> Message:
    where = f"frame at byte {offset}"
    if kind is Kind.UUID:
        if len(payload) != 16:
            raise AudioSocketProtocolError(f"{where}: a UUID frame carries 16 bytes, not {len(payload)}")
        return StreamId(uuid.UUID(bytes=payload))
    if kind is Kind.DTMF:
        digit = payload.decode("ascii", errors="replace")
        if len(payload) != 1 or digit not in DTMF_DIGITS:
            raise AudioSocketProtocolError(f"{where}: a DTMF frame carries one digit, not {payload[:8]!r}")
        return Dtmf(digit)
    if kind is Kind.HANGUP:
        if payload:
            raise AudioSocketProtocolError(
                f"{where}: a hang-up frame carries nothing, not {len(payload)} bytes"
            )
        return Hangup()
    if kind is Kind.ERROR:
        return ErrorReport(int.from_bytes(payload, "big") if payload else None)
    if not payload or len(payload) % 2:
        raise AudioSocketProtocolError(f"{where}: audio of {len(payload)} bytes is not 16-bit samples")
    return Audio(payload, AUDIO_RATES[kind])


class FrameParser:
    """Turns the bytes of one AudioSocket stream into messages, whatever the pieces they arrive in.

    Holds at most one frame's worth of bytes (``max_payload`` + header); a broken stream raises
    :class:`AudioSocketProtocolError` once and every later ``feed`` raises it again.
    """

    def __init__(self, *, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self._buffer = bytearray()
        self._offset = 0  # of the buffer's first byte in the stream
        self._broken: str | None = None

    @property
    def pending(self) -> int:
        """Bytes of a frame not yet complete (0: the stream stands between frames)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        if self._broken is not None:
            raise AudioSocketProtocolError(f"stream unusable after an earlier error ({self._broken})")
        self._buffer += data
        messages: list[Message] = []
        try:
            while len(self._buffer) >= HEADER_BYTES:
                raw_kind = self._buffer[0]
                length = int.from_bytes(self._buffer[1:3], "big")
                kind = _KINDS.get(raw_kind)
                if kind is None:
                    raise AudioSocketProtocolError(
                        f"frame at byte {self._offset}: unknown kind 0x{raw_kind:02x}"
                    )
                if length > self.max_payload:
                    raise AudioSocketProtocolError(
                        f"frame at byte {self._offset}: payload of {length} bytes is over the limit "
                        f"of {self.max_payload}"
                    )
                end = HEADER_BYTES + length
                if len(self._buffer) < end:
                    break
                messages.append(_decode(kind, bytes(self._buffer[HEADER_BYTES:end]), self._offset))
                del self._buffer[:end]
                self._offset += end
        except AudioSocketProtocolError as exc:
            self._broken = str(exc)
            self._buffer.clear()
            raise
        return messages

    def finish(self) -> None:
        """The peer closed the stream: raise if it closed in the middle of a frame."""
        if self._buffer and self._broken is None:
            pending = len(self._buffer)
            self._buffer.clear()
            self._broken = f"stream closed in the middle of a frame ({pending} bytes of it received)"
            raise AudioSocketProtocolError(self._broken)


# --- Encoding (what a server sends, and what tests send as Asterisk) ----------------------------------------


def _frame(kind: Kind, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError(f"an AudioSocket payload holds at most 65535 bytes, not {len(payload)}")
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


def encode_hangup() -> bytes:
    return _frame(Kind.HANGUP)


def encode_uuid(call_id: uuid.UUID) -> bytes:
    return _frame(Kind.UUID, call_id.bytes)


def encode_audio(pcm: bytes, rate: int = 8000) -> bytes:
    kinds = {r: k for k, r in AUDIO_RATES.items()}
    if rate not in kinds:
        raise ValueError(f"no AudioSocket kind for audio at {rate} Hz")
    if not pcm or len(pcm) % 2:
        raise ValueError(f"audio of {len(pcm)} bytes is not 16-bit samples")
    return _frame(kinds[rate], pcm)


def encode_dtmf(digit: str) -> bytes:
    if len(digit) != 1 or digit not in DTMF_DIGITS:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return _frame(Kind.DTMF, digit.encode("ascii"))


def encode_error(code: int | None = None) -> bytes:
    return _frame(Kind.ERROR, b"" if code is None else bytes([code]))
