"""The AudioSocket server over real loopback sockets, with a peer that plays Asterisk's app_audiosocket."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from ivr.speech.audiosocket import (
    FRAME_BYTES_8K,
    Audio,
    AudioSocketProtocolError,
    Dtmf,
    FrameParser,
    Hangup,
    encode_audio,
    encode_dtmf,
    encode_hangup,
    encode_uuid,
)
from ivr.speech.server import AudioSocketServer, AudioSocketTimeout

STEP = 5.0  # a deadline no healthy step comes near
SILENCE = bytes(FRAME_BYTES_8K)


@pytest.fixture
async def server() -> AsyncIterator[AudioSocketServer]:
    server = AudioSocketServer(port=0, id_timeout=0.3)
    await server.start()
    yield server
    await server.close()


async def connect(server: AudioSocketServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.port)


async def read_all(reader: asyncio.StreamReader) -> list[object]:
    """What the server sent until it closed."""
    async with asyncio.timeout(STEP):
        data = await reader.read()
    return list(FrameParser().feed(data))


async def test_the_expected_call_gets_its_audio_and_keys_and_ends_it(server: AudioSocketServer) -> None:
    with server.expect() as expected:
        reader, writer = await connect(server)
        writer.write(encode_uuid(expected.call_id) + encode_audio(SILENCE) + encode_dtmf("7"))
        stream = await expected.connected(STEP)
        assert stream.call_id == expected.call_id
        assert await stream.receive(STEP) == Audio(SILENCE)
        assert await stream.receive(STEP) == Dtmf("7")
        await stream.send_audio(SILENCE)
        await stream.close()
    # The peer hears the audio, then the hang-up frame that ends AudioSocket() cleanly, then the close.
    assert await read_all(reader) == [Audio(SILENCE), Hangup()]
    writer.close()


async def test_frames_split_anywhere_arrive_whole(server: AudioSocketServer) -> None:
    with server.expect() as expected:
        _reader, writer = await connect(server)
        data = encode_uuid(expected.call_id) + encode_audio(SILENCE) * 3
        for start in range(0, len(data), 7):
            writer.write(data[start : start + 7])
            await writer.drain()
        stream = await expected.connected(STEP)
        for _ in range(3):
            assert await stream.receive(STEP) == Audio(SILENCE)
        await stream.close()
    writer.close()


async def test_asterisk_hanging_up_ends_the_stream(server: AudioSocketServer) -> None:
    with server.expect() as expected:
        _reader, writer = await connect(server)
        writer.write(encode_uuid(expected.call_id) + encode_audio(SILENCE) + encode_hangup())
        stream = await expected.connected(STEP)
        assert await stream.receive(STEP) == Audio(SILENCE)
        assert await stream.receive(STEP) is None
        assert stream.ended
        assert await stream.receive(STEP) is None
    writer.close()


async def test_a_clean_close_ends_the_stream_and_a_half_frame_is_an_error(server: AudioSocketServer) -> None:
    with server.expect() as clean, server.expect() as cut:
        _r1, w1 = await connect(server)
        w1.write(encode_uuid(clean.call_id))
        w1.close()
        stream = await clean.connected(STEP)
        assert await stream.receive(STEP) is None

        _r2, w2 = await connect(server)
        w2.write(encode_uuid(cut.call_id) + encode_audio(SILENCE)[:50])
        w2.close()
        stream = await cut.connected(STEP)
        with pytest.raises(AudioSocketProtocolError, match="middle of a frame"):
            await stream.receive(STEP)


async def test_a_silent_peer_times_out(server: AudioSocketServer) -> None:
    with server.expect() as expected:
        _reader, writer = await connect(server)
        writer.write(encode_uuid(expected.call_id))
        stream = await expected.connected(STEP)
        with pytest.raises(AudioSocketTimeout):
            await stream.receive(0.1)
        await stream.close()
    writer.close()


async def test_no_connection_times_out(server: AudioSocketServer) -> None:
    with server.expect() as expected, pytest.raises(AudioSocketTimeout, match="no AudioSocket connection"):
        await expected.connected(0.1)
    assert list(server.waiting) == []


@pytest.mark.parametrize(
    "first",
    [
        b"",  # closes at once
        b"\x01\x00",  # half a header, then nothing: the id never comes
        b"GET / HTTP/1.1\r\n\r\n",
        encode_audio(SILENCE),  # audio before the id
        encode_uuid(uuid.UUID(int=1)),  # nobody waits for it
    ],
)
async def test_a_peer_not_expected_is_refused(server: AudioSocketServer, first: bytes) -> None:
    with server.expect() as expected:
        reader, writer = await connect(server)
        writer.write(first)
        if not first:
            writer.write_eof()
        assert await read_all(reader) == [Hangup()]
        assert server.rejected == 1
        # The call that waits is not disturbed: its own connection still arrives.
        _r, w = await connect(server)
        w.write(encode_uuid(expected.call_id))
        stream = await expected.connected(STEP)
        await stream.close()
        w.close()
    writer.close()


async def test_a_call_id_is_handed_over_once(server: AudioSocketServer) -> None:
    with server.expect() as expected:
        _r1, w1 = await connect(server)
        w1.write(encode_uuid(expected.call_id))
        stream = await expected.connected(STEP)
        r2, w2 = await connect(server)
        w2.write(encode_uuid(expected.call_id))
        assert await read_all(r2) == [Hangup()]
        await stream.close()
    w1.close()
    w2.close()


async def test_leaving_the_block_cuts_a_stream_left_open(server: AudioSocketServer) -> None:
    with server.expect() as expected:
        reader, writer = await connect(server)
        writer.write(encode_uuid(expected.call_id))
        stream = await expected.connected(STEP)
    assert stream.ended
    async with asyncio.timeout(STEP):
        assert await reader.read() == b""
    writer.close()


def test_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        AudioSocketServer("0.0.0.0")
