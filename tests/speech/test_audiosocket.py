"""The AudioSocket protocol from frames as Asterisk 22 sends them, in any pieces, and from garbage."""

from __future__ import annotations

import uuid

import pytest

from ivr.speech.audiosocket import (
    FRAME_BYTES_8K,
    Audio,
    AudioSocketProtocolError,
    Dtmf,
    ErrorReport,
    FrameParser,
    Hangup,
    StreamId,
    encode_audio,
    encode_dtmf,
    encode_error,
    encode_hangup,
    encode_uuid,
)

CALL_ID = uuid.UUID("0b2a5e4c-9d3f-4f7e-8c1a-2f6d1e0a9b7c")
SILENCE = bytes(FRAME_BYTES_8K)
# What app_audiosocket writes for AudioSocket(0b2a5e4c-…,127.0.0.1:port): the id, 20 ms of 8 kHz audio,
# a key (RFC 4733 "5"), Asterisk's hang-up. Written out byte by byte, not with the encoders under test.
RECORDED = (
    b"\x01\x00\x10" + bytes.fromhex("0b2a5e4c9d3f4f7e8c1a2f6d1e0a9b7c")
    + b"\x10\x01\x40" + SILENCE
    + b"\x03\x00\x01" + b"5"
    + b"\x00\x00\x00"
)  # fmt: skip
EXPECTED = [StreamId(CALL_ID), Audio(SILENCE), Dtmf("5"), Hangup()]


def test_a_recorded_stream_in_one_piece() -> None:
    parser = FrameParser()
    assert parser.feed(RECORDED) == EXPECTED
    assert parser.pending == 0


@pytest.mark.parametrize("size", [1, 2, 3, 7, 319, 320, 323, 1000])
def test_a_recorded_stream_in_pieces_of_any_size(size: int) -> None:
    parser = FrameParser()
    messages = []
    for start in range(0, len(RECORDED), size):
        messages += parser.feed(RECORDED[start : start + size])
    assert messages == EXPECTED
    parser.finish()  # ended between frames: fine


def test_the_encoders_write_what_asterisk_writes() -> None:
    assert encode_uuid(CALL_ID) + encode_audio(SILENCE) + encode_dtmf("5") + encode_hangup() == RECORDED


def test_higher_rates_and_error_reports() -> None:
    parser = FrameParser()
    pcm16 = bytes(640)
    assert parser.feed(b"\x12\x02\x80" + pcm16 + encode_error(1) + encode_error()) == [
        Audio(pcm16, 16000),
        ErrorReport(1),
        ErrorReport(None),
    ]


def test_half_a_frame_waits_for_the_rest() -> None:
    parser = FrameParser()
    assert parser.feed(RECORDED[:10]) == []
    assert parser.pending == 10
    assert parser.feed(RECORDED[10:19]) == [StreamId(CALL_ID)]
    assert parser.pending == 0


def test_a_stream_that_ends_in_the_middle_of_a_frame() -> None:
    parser = FrameParser()
    parser.feed(encode_uuid(CALL_ID) + encode_audio(SILENCE)[:100])
    with pytest.raises(AudioSocketProtocolError, match=r"middle of a frame \(100 bytes"):
        parser.finish()


@pytest.mark.parametrize(
    ("garbage", "error"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "unknown kind 0x47"),
        (b"\x02\x00\x00", "unknown kind 0x02"),
        (b"\x10\xff\xff" + bytes(10), "65535 bytes is over the limit of 8192"),
        (b"\x01\x00\x04abcd", "UUID frame carries 16 bytes, not 4"),
        (b"\x03\x00\x01x", "DTMF frame carries one digit"),
        (b"\x03\x00\x02" + b"12", "DTMF frame carries one digit"),
        (b"\x10\x00\x03abc", "3 bytes is not 16-bit samples"),
        (b"\x10\x00\x00", "0 bytes is not 16-bit samples"),
        (b"\x00\x00\x01x", "hang-up frame carries nothing"),
    ],
)
def test_garbage_is_a_clear_error_naming_where(garbage: bytes, error: str) -> None:
    parser = FrameParser()
    good = encode_uuid(CALL_ID)
    with pytest.raises(AudioSocketProtocolError, match=f"frame at byte {len(good)}: .*{error}"):
        parser.feed(good + garbage)
    # Nothing is read after a broken frame: the stream cannot be trusted any more.
    with pytest.raises(AudioSocketProtocolError, match="unusable after an earlier error"):
        parser.feed(encode_audio(SILENCE))


def test_the_limit_holds_before_the_payload_arrives() -> None:
    parser = FrameParser(max_payload=320)
    with pytest.raises(AudioSocketProtocolError, match="321 bytes is over the limit of 320"):
        parser.feed(b"\x10\x01\x41")  # the header alone: nothing is buffered waiting for 321 bytes


def test_random_bytes_never_crash_the_parser() -> None:
    import random

    rng = random.Random(19524)
    for _ in range(500):
        parser = FrameParser()
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        try:
            for message in parser.feed(data):
                assert isinstance(message, StreamId | Audio | Dtmf | Hangup | ErrorReport)
            parser.finish()
        except AudioSocketProtocolError:
            pass


def test_the_encoders_refuse_what_asterisk_would_not_take() -> None:
    with pytest.raises(ValueError, match="not a DTMF digit"):
        encode_dtmf("x")
    with pytest.raises(ValueError, match="16-bit"):
        encode_audio(b"abc")
    with pytest.raises(ValueError, match="no AudioSocket kind"):
        encode_audio(SILENCE, 11025)
    with pytest.raises(ValueError, match="at most 65535"):
        encode_audio(bytes(70000))
