"""Protocol tests: our FastAgiServer against a real socket peer playing Asterisk.

Every bad case ends by checking that an honest session is still served normally.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ivr.fastagi import (
    AgiCommandError,
    CallerHungUp,
    Channel,
    DigitInput,
    FastAgiServer,
    Route,
    UniqueidLogFilter,
)

from .peer import STEP_DEADLINE, AsteriskPeer, agi_header

HONEST_REPLIES = [
    "200 result=0",  # ANSWER
    "200 result=1 (48600100200)",  # GET VARIABLE
    "200 result=50 endpos=1234",  # STREAM FILE: "2" pressed
    "200 result=12 (timeout)",  # GET DATA
    "200 result=0",  # GET VARIABLE (not set)
    "200 result=1",  # SET VARIABLE
    "200 result=1",  # VERBOSE
]
HONEST_COMMANDS = [
    "ANSWER",
    'GET VARIABLE "CALLERID(num)"',
    'STREAM FILE "hotline/welcome" "12"',
    'GET DATA "hotline/menu" "3000" "2"',
    'GET VARIABLE "HOTLINE_LANG"',
    'SET VARIABLE "CHOICE" "2/12"',
    'VERBOSE "caller 48600100200 chose 2/12" "1"',
]
DEAD_CHANNEL = "511 Command Not Permitted on a dead channel or intercept routine"


@dataclass
class Calls:
    """What the routes saw, for assertions."""

    seen: list[tuple[str, Any]] = field(default_factory=list)
    go: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, what: str, value: Any = None) -> None:
        self.seen.append((what, value))

    def of(self, what: str) -> list[Any]:
        return [value for name, value in self.seen if name == what]


def make_routes(calls: Calls) -> dict[str, Route]:
    async def ping(channel: Channel) -> None:
        """The honest route: several commands with typed results."""
        await channel.answer()
        number = await channel.get_variable("CALLERID(num)")
        digit = await channel.stream_file("hotline/welcome", "12")
        data = await channel.get_data("hotline/menu", 3000, 2)
        lang = await channel.get_variable("HOTLINE_LANG")
        calls.record("ping", (channel.env.uniqueid, number, digit, data, lang))
        await channel.set_variable("CHOICE", f"{digit}/{data.digits}")
        await channel.verbose(f"caller {number} chose {digit}/{data.digits}")

    async def hangup_aware(channel: Channel) -> None:
        """Records the hang-up, then checks that a later command raises without being sent."""
        await channel.answer()
        try:
            await channel.stream_file("hotline/welcome")
        except CallerHungUp as exc:
            calls.record("hung-up", exc)
        try:
            await channel.set_variable("AFTER", "1")
        except CallerHungUp as exc:
            calls.record("after", exc)
        raise CallerHungUp("route gives up")

    async def boom(channel: Channel) -> None:
        await channel.answer()
        raise RuntimeError("boom")

    async def inject(channel: Channel) -> None:
        await channel.answer()
        await channel.set_variable("X", '1" \n HANGUP')

    async def noop(channel: Channel) -> None:
        await channel.command("NOOP")

    async def blocked(channel: Channel) -> None:
        try:
            await channel.answer()
        except asyncio.CancelledError:
            calls.record("cancelled")
            raise

    def sync_route(channel: Channel) -> None:
        calls.record("sync")

    async def digits(channel: Channel) -> None:
        kind = channel.env.arguments[0]
        try:
            if kind == "answer":
                await channel.answer()
            elif kind == "stream":
                await channel.stream_file("hotline/welcome", "1")
            elif kind == "get_data":
                await channel.get_data("hotline/menu", 3000, 2)
            elif kind == "wait":
                await channel.wait_for_digit(5000)
            elif kind == "say":
                await channel.say_digits("19524")
        except Exception as exc:
            calls.record(kind, exc)
            raise

    async def slow(channel: Channel) -> None:
        calls.record("channel", channel)
        await channel.answer()
        await calls.go.wait()
        calls.record("value", await channel.get_variable("SLOW"))

    async def misc(channel: Channel) -> None:
        calls.record("env", channel.env)
        calls.record("wait", await channel.wait_for_digit(-1))
        calls.record("say", await channel.say_digits("19524", "#"))
        calls.record("exec", await channel.exec("Queue", "pup-general", "t", "", "", "300"))
        calls.record("exec-bare", await channel.exec("Congestion"))
        await channel.hangup()
        calls.record("hung_up", channel.hung_up)

    return {
        "ping": ping,
        "hangup-aware": hangup_aware,
        "boom": boom,
        "inject": inject,
        "noop": noop,
        "blocked": blocked,
        "sync": sync_route,  # type: ignore[dict-item]
        "digits": digits,
        "misc": misc,
        "slow": slow,
    }


@pytest.fixture
def calls() -> Calls:
    return Calls()


ServerFactory = Callable[..., Awaitable[FastAgiServer]]


@pytest.fixture
async def make_server(calls: Calls) -> AsyncIterator[ServerFactory]:
    servers: list[FastAgiServer] = []

    async def make(**options: Any) -> FastAgiServer:
        server = FastAgiServer(make_routes(calls), port=0, **options)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.close()


@pytest.fixture
async def server(make_server: ServerFactory) -> FastAgiServer:
    return await make_server()


@pytest.fixture
def log_records(caplog: pytest.LogCaptureFixture) -> Callable[[int], list[logging.LogRecord]]:
    """Records of our package at exactly the given level; they carry `uniqueid`."""
    caplog.handler.addFilter(UniqueidLogFilter())

    def records(level: int) -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name.startswith("ivr.fastagi") and r.levelno == level]

    return records


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds; fail after the step deadline."""
    async with asyncio.timeout(STEP_DEADLINE):
        while not condition():  # noqa: ASYNC110 -- polling with a deadline is the point
            await asyncio.sleep(0.01)


async def assert_honest_session(server: FastAgiServer, calls: Calls, uniqueid: str = "honest.1") -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("ping", uniqueid=uniqueid)
    await peer.play(HONEST_REPLIES)
    assert await peer.wait_closed_by_server() == b""
    await peer.close()
    assert peer.received == HONEST_COMMANDS
    assert (uniqueid, "48600100200", "2", DigitInput("12", timed_out=True), None) in calls.of("ping")


def single_warning(records: Callable[[int], list[logging.LogRecord]]) -> str:
    warnings = records(logging.WARNING)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    return warnings[0].getMessage()


# ------------------------------------------------------------------------------------------------ honest


async def test_honest_session_sees_typed_results(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    await assert_honest_session(server, calls, uniqueid="1700000042.7")

    assert log_records(logging.WARNING) == [] and log_records(logging.ERROR) == []
    end = [r for r in log_records(logging.INFO) if r.getMessage().startswith("session end route=ping")]
    assert len(end) == 1
    assert "duration_ms=" in end[0].getMessage() and "outcome=ok" in end[0].getMessage()
    assert end[0].uniqueid == "1700000042.7"  # type: ignore[attr-defined]
    await eventually(lambda: server.session_count == 0, "session finished")


async def test_environment_and_other_commands(server: FastAgiServer, calls: Calls) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("misc?lang=en", uniqueid="misc.1", arguments=["a,b", "ż ó"])
    await peer.play(
        [
            "200 result=35",  # WAIT FOR DIGIT: "#"
            "200 result=0",  # SAY DIGITS: played to the end
            "200 result=0",  # EXEC Queue
            "200 result=-2",  # EXEC Congestion: no such application
            "200 result=1",  # HANGUP
        ]
    )
    assert await peer.wait_closed_by_server() == b""

    assert peer.received == [
        'WAIT FOR DIGIT "-1"',
        'SAY DIGITS "19524" "#"',
        'EXEC "Queue" "pup-general,t,,,300"',
        'EXEC "Congestion"',
        "HANGUP",
    ]
    (env,) = calls.of("env")
    assert (env.route, dict(env.query), env.arguments, env.uniqueid) == (
        "misc",
        {"lang": "en"},
        ("a,b", "ż ó"),
        "misc.1",
    )
    assert calls.of("wait") == ["#"] and calls.of("say") == [None]
    assert calls.of("exec") == ["0"] and calls.of("exec-bare") == ["-2"]
    assert calls.of("hung_up") == [True]


async def test_uniqueid_of_concurrent_sessions_stays_apart(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    peers = [await AsteriskPeer.connect(server.port) for _ in range(2)]
    for index, peer in enumerate(peers):
        await peer.send_header("ping", uniqueid=f"parallel.{index}")
    # Interleave the two sessions command by command.
    for reply in HONEST_REPLIES:
        for peer in peers:
            await peer.play([reply])
    for peer in peers:
        assert await peer.wait_closed_by_server() == b""
        assert peer.received == HONEST_COMMANDS

    ends = [r for r in log_records(logging.INFO) if r.getMessage().startswith("session end")]
    assert sorted(r.uniqueid for r in ends) == ["parallel.0", "parallel.1"]  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------ bad headers


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "not an AGI header line", id="http"),
        pytest.param(
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", "not an AGI header line", id="binary"
        ),
        pytest.param(
            b"agi_network: yes\nagi_uniqueid: 1.2\n\n", "without agi_network_script", id="no-script"
        ),
        pytest.param(b"\n", "without agi_network_script", id="empty-header"),
        pytest.param(b"agi_network_script: ping\n\n", "without agi_uniqueid", id="one-line"),
        pytest.param(b"agi_network: yes\nGET / HTTP/1.0\n\n", "not an AGI header line", id="garbage-later"),
    ],
)
async def test_garbage_header_is_rejected(
    server: FastAgiServer,
    calls: Calls,
    log_records: Callable[[int], list[logging.LogRecord]],
    data: bytes,
    reason: str,
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send(data)

    assert await peer.wait_closed_by_server() == b""
    message = single_warning(log_records)
    assert "rejected" in message and reason in message
    await assert_honest_session(server, calls)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(
            b"agi_network: yes\nagi_network_scr", "closed in the middle of a header line", id="mid-line"
        ),
        pytest.param(
            b"agi_network: yes\n", "closed before the end of the header (17 bytes", id="between-lines"
        ),
        pytest.param(b"", "closed before the end of the header (0 bytes", id="nothing"),
    ],
)
async def test_half_sent_header_then_close(
    server: FastAgiServer,
    calls: Calls,
    log_records: Callable[[int], list[logging.LogRecord]],
    data: bytes,
    reason: str,
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send(data)
    peer.shutdown_write()

    assert await peer.wait_closed_by_server() == b""
    assert reason in single_warning(log_records)
    await eventually(lambda: server.session_count == 0, "no session left spinning")
    await assert_honest_session(server, calls)


async def test_half_sent_header_then_full_close(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    """The case that makes panoramisk spin: EOF in the middle of the header, socket gone."""
    peer = await AsteriskPeer.connect(server.port)
    await peer.send(b"agi_network: yes\nagi_network_script: pi")
    await peer.close()

    await eventually(lambda: bool(log_records(logging.WARNING)), "rejection logged")
    assert "closed in the middle of a header line" in single_warning(log_records)
    await eventually(lambda: server.session_count == 0, "no session left spinning")
    await assert_honest_session(server, calls)


async def test_header_that_never_ends(
    make_server: ServerFactory, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    server = await make_server(header_timeout=0.2)
    peer = await AsteriskPeer.connect(server.port)
    await peer.send(b"agi_network: yes\nagi_network_script: ping\n")  # ... and nothing more

    assert await peer.wait_closed_by_server() == b""
    assert "no complete header within 0.2 s (some lines received)" in single_warning(log_records)
    await assert_honest_session(server, calls)


async def test_silent_connection_times_out(
    make_server: ServerFactory, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    server = await make_server(header_timeout=0.2)
    peer = await AsteriskPeer.connect(server.port)

    assert await peer.wait_closed_by_server() == b""
    assert "no complete header within 0.2 s (nothing received)" in single_warning(log_records)
    await assert_honest_session(server, calls)


async def test_oversized_header_line(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send(b"agi_network: yes\nagi_callerid: " + b"9" * 40_000)  # never ends

    with contextlib.suppress(ConnectionResetError):  # closed with some of our bytes unread
        await peer.wait_closed_by_server()
    await eventually(lambda: bool(log_records(logging.WARNING)), "rejection logged")
    assert "header longer than 32768 bytes" in single_warning(log_records)
    await assert_honest_session(server, calls)


async def test_oversized_line_in_a_complete_header(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send(b"agi_network: yes\nagi_callerid: " + b"9" * 9_000 + b"\n\n")

    assert await peer.wait_closed_by_server() == b""
    assert "header line longer than 8192 characters" in single_warning(log_records)
    await assert_honest_session(server, calls)


async def test_too_many_header_lines(
    make_server: ServerFactory, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    server = await make_server(max_header_lines=30)  # an honest header has 22
    peer = await AsteriskPeer.connect(server.port)
    await peer.send(b"".join(f"agi_x_{index}: {index}\n".encode() for index in range(31)) + b"\n")

    assert await peer.wait_closed_by_server() == b""
    assert "more than 30 header lines" in single_warning(log_records)
    await assert_honest_session(server, calls)


# ------------------------------------------------------------------------------------------------ hang-ups


@pytest.mark.parametrize(
    "hangup",
    [
        pytest.param(["HANGUP", DEAD_CHANNEL], id="HANGUP-then-511"),
        pytest.param([DEAD_CHANNEL], id="511"),
        pytest.param(["HANGUP"], id="HANGUP-before-reply"),
    ],
)
async def test_hang_up_during_a_command(
    server: FastAgiServer,
    calls: Calls,
    log_records: Callable[[int], list[logging.LogRecord]],
    hangup: list[str],
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("hangup-aware")
    await peer.play(["200 result=0", hangup])

    assert await peer.wait_closed_by_server() == b""
    assert peer.received == ["ANSWER", 'STREAM FILE "hotline/welcome" ""']  # nothing written after
    assert len(calls.of("hung-up")) == 1 and len(calls.of("after")) == 1
    assert log_records(logging.WARNING) == [] and log_records(logging.ERROR) == []
    assert any(
        "caller hung up during route=hangup-aware" in r.getMessage() for r in log_records(logging.INFO)
    )
    await assert_honest_session(server, calls)


async def test_connection_closed_during_a_command(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("hangup-aware")
    await peer.play(["200 result=0"])
    assert await peer.read_command() == 'STREAM FILE "hotline/welcome" ""'
    await peer.send(b"200 resu")  # half a reply, then the socket goes away
    await peer.close()

    await eventually(lambda: len(calls.of("after")) == 1, "route saw the hang-up")
    assert isinstance(calls.of("hung-up")[0], CallerHungUp)
    await eventually(lambda: server.session_count == 0, "session closed")
    assert log_records(logging.WARNING) == [] and log_records(logging.ERROR) == []
    await assert_honest_session(server, calls)


@pytest.mark.parametrize(
    ("kind", "command"),
    [
        ("answer", "ANSWER"),
        ("get_data", 'GET DATA "hotline/menu" "3000" "2"'),
        ("wait", 'WAIT FOR DIGIT "5000"'),
        ("say", 'SAY DIGITS "19524" ""'),
    ],
)
async def test_result_minus_one_means_hang_up(
    server: FastAgiServer,
    calls: Calls,
    log_records: Callable[[int], list[logging.LogRecord]],
    kind: str,
    command: str,
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("digits", arguments=[kind])
    await peer.play(["200 result=-1"])

    assert await peer.wait_closed_by_server() == b""
    assert peer.received == [command]
    assert isinstance(calls.of(kind)[0], CallerHungUp)
    assert log_records(logging.WARNING) == []
    await assert_honest_session(server, calls)


async def test_stream_file_minus_one_on_a_dead_channel_is_a_hang_up(
    server: FastAgiServer, calls: Calls
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("digits", arguments=["stream"])
    await peer.play(["200 result=-1 endpos=0", ["HANGUP", DEAD_CHANNEL]])

    assert await peer.wait_closed_by_server() == b""
    assert peer.received == ['STREAM FILE "hotline/welcome" "1"', "CHANNEL STATUS"]
    assert isinstance(calls.of("stream")[0], CallerHungUp)
    await assert_honest_session(server, calls)


async def test_stream_file_minus_one_on_a_live_channel_is_a_missing_file(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("digits", arguments=["stream"])
    await peer.play(["200 result=-1 endpos=0", "200 result=6"])

    assert await peer.finish() == ['SET VARIABLE "HOTLINE_AGI_ERROR" "exception"']
    (error,) = calls.of("stream")
    assert isinstance(error, AgiCommandError) and error.reply.result == "-1"
    assert "missing file" in single_warning(log_records)
    await assert_honest_session(server, calls)


# ------------------------------------------------------------------------------------------------ failures


async def test_unknown_route(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("no-such-route?x=1", uniqueid="lost.1")

    assert await peer.finish() == ['SET VARIABLE "HOTLINE_AGI_ERROR" "unknown-route"']
    message = single_warning(log_records)
    assert "unknown FastAGI route 'no-such-route'" in message
    assert log_records(logging.WARNING)[0].uniqueid == "lost.1"  # type: ignore[attr-defined]
    await assert_honest_session(server, calls)


async def test_route_raising_an_exception(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("boom", uniqueid="boom.1")
    await peer.play(["200 result=0"])

    assert await peer.finish() == ['SET VARIABLE "HOTLINE_AGI_ERROR" "exception"']
    (error,) = log_records(logging.ERROR)
    assert error.getMessage() == "route=boom raised"
    assert error.exc_info is not None and str(error.exc_info[1]) == "boom"
    assert error.uniqueid == "boom.1"  # type: ignore[attr-defined]
    await assert_honest_session(server, calls)


async def test_injection_attempt_never_reaches_the_wire(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("inject")
    await peer.play(["200 result=0"])

    assert await peer.finish() == ['SET VARIABLE "HOTLINE_AGI_ERROR" "exception"']
    assert peer.received == ["ANSWER", 'SET VARIABLE "HOTLINE_AGI_ERROR" "exception"']
    (error,) = log_records(logging.ERROR)
    assert error.exc_info is not None and isinstance(error.exc_info[1], ValueError)
    await assert_honest_session(server, calls)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(["510 Invalid or unknown command"], id="510"),
        pytest.param(
            [
                "520-Invalid command syntax.  Proper usage follows:",
                " Usage: NOOP",
                "520 End of proper usage.",
            ],
            id="520-multi-line",
        ),
    ],
)
async def test_command_refused_by_asterisk(
    server: FastAgiServer,
    calls: Calls,
    log_records: Callable[[int], list[logging.LogRecord]],
    reply: list[str],
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("noop")
    await peer.play([reply])

    # The whole multi-line reply was consumed: the next command gets its own reply.
    assert await peer.finish() == ['SET VARIABLE "HOTLINE_AGI_ERROR" "exception"']
    message = single_warning(log_records)
    assert "AgiCommandError" in message and reply[0] in message
    await assert_honest_session(server, calls)


async def test_reply_that_never_comes(
    make_server: ServerFactory, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    server = await make_server(command_timeout=0.2)
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("ping")

    assert await peer.read_command() == "ANSWER"
    assert await peer.wait_closed_by_server() == b""  # no reply from us: the server gives up and closes
    assert "no reply to ANSWER within 0.2 s" in single_warning(log_records)
    await assert_honest_session(server, calls)


async def test_reply_timeout_counts_from_each_command(
    make_server: ServerFactory, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    """The reply deadline is per command: a reply that comes after the PREVIOUS command's deadline but
    within its own is accepted (the connection's one timer fires, then re-arms for the pending command)."""
    server = await make_server(command_timeout=1.0)
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("slow")
    assert await peer.read_command() == "ANSWER"
    (channel,) = calls.of("channel")
    connection = channel._connection
    answer_watchdog = connection._watchdog
    assert answer_watchdog is not None
    await peer.reply("200 result=0")
    loop = asyncio.get_running_loop()
    # Let the route send its next command halfway to ANSWER's deadline...
    await eventually(lambda: loop.time() > answer_watchdog.when() - 0.5, "halfway to ANSWER's deadline")
    calls.go.set()
    assert await peer.read_command() == 'GET VARIABLE "SLOW"'
    # ... and answer it only once ANSWER's deadline has passed and the timer re-armed for GET VARIABLE.
    await eventually(lambda: connection._watchdog is not answer_watchdog, "timer re-armed")
    await peer.reply("200 result=1 (late but in time)")

    assert await peer.wait_closed_by_server() == b""
    assert calls.of("value") == ["late but in time"]
    assert log_records(logging.WARNING) == []
    await assert_honest_session(server, calls)


async def test_error_report_does_not_wait_for_the_command_timeout(
    server: FastAgiServer, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default 300 s command timeout, the best-effort SET VARIABLE still gives up quickly."""
    monkeypatch.setattr("ivr.fastagi.server._REPORT_TIMEOUT", 0.2)
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("no-such-route")

    assert await peer.read_command() == 'SET VARIABLE "HOTLINE_AGI_ERROR" "unknown-route"'  # never answered
    assert await peer.wait_closed_by_server() == b""
    await assert_honest_session(server, calls)


async def test_trying_line_before_the_reply(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("noop")
    await peer.play([["100 result=0 Trying...", "200 result=0"]])

    assert await peer.wait_closed_by_server() == b""
    assert log_records(logging.WARNING) == []
    assert any("outcome=ok" in r.getMessage() for r in log_records(logging.INFO))
    await assert_honest_session(server, calls)


async def test_header_and_replies_cut_in_pieces(server: FastAgiServer, calls: Calls) -> None:
    """TCP may cut anywhere: a header sent a few bytes at a time (the last cut between the two newlines that
    end it), and replies split mid-line, still make one honest session."""
    peer = await AsteriskPeer.connect(server.port)
    header = agi_header("ping", uniqueid="pieces.1")
    cuts = [*range(0, len(header) - 1, 7), len(header) - 1, len(header)]
    for start, end in itertools.pairwise(cuts):
        await peer.send(header[start:end])
        await asyncio.sleep(0.001)  # lets each piece arrive on its own
    for reply in HONEST_REPLIES:
        assert await peer.read_command() is not None
        line = f"{reply}\n".encode()
        await peer.send(line[:5])
        await asyncio.sleep(0.001)
        await peer.send(line[5:])

    assert await peer.wait_closed_by_server() == b""
    assert peer.received == HONEST_COMMANDS
    assert ("pieces.1", "48600100200", "2", DigitInput("12", timed_out=True), None) in calls.of("ping")


async def test_reply_line_too_long(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("noop")
    assert await peer.read_command() == "NOOP"
    await peer.send(b"200 result=1 (" + b"x" * 40_000)

    # The server closes with our unread bytes in its buffer, which may reset the connection.
    with contextlib.suppress(ConnectionResetError):
        await peer.wait_closed_by_server()
    await eventually(lambda: bool(log_records(logging.WARNING)), "failure logged")
    assert "AGI reply line too long" in single_warning(log_records)
    await assert_honest_session(server, calls)


async def test_garbage_reply(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("ping")
    await peer.play(["hello there"])

    assert await peer.wait_closed_by_server() == b""
    assert "AgiProtocolError" in single_warning(log_records)
    await assert_honest_session(server, calls)


async def test_sync_route_is_reported(
    server: FastAgiServer, calls: Calls, log_records: Callable[[int], list[logging.LogRecord]]
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("sync")

    assert await peer.finish() == ['SET VARIABLE "HOTLINE_AGI_ERROR" "exception"']
    assert calls.of("sync") == [None]
    assert "not an awaitable" in str(log_records(logging.ERROR)[0].exc_info[1])  # type: ignore[index]
    await assert_honest_session(server, calls)


# ------------------------------------------------------------------------------------------------ lifecycle


async def test_close_cancels_and_awaits_sessions(
    server: FastAgiServer, calls: Calls, caplog: pytest.LogCaptureFixture
) -> None:
    peer = await AsteriskPeer.connect(server.port)
    await peer.send_header("blocked")
    assert await peer.read_command() == "ANSWER"  # and we never reply
    assert server.session_count == 1

    await server.close()

    assert calls.of("cancelled") == [None]
    assert server.session_count == 0
    assert any("outcome=cancelled" in r.getMessage() for r in caplog.records)
    assert await peer.wait_closed_by_server() == b""
    with pytest.raises(OSError):
        await AsteriskPeer.connect(peer.writer.get_extra_info("peername")[1])


async def test_context_manager_and_port(calls: Calls) -> None:
    server = FastAgiServer(make_routes(calls), port=0)
    with pytest.raises(RuntimeError):
        _ = server.port
    async with server:
        assert server.port > 0
        await assert_honest_session(server, calls)
    assert server.session_count == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.10", "10.0.0.1", "agi.example.org"])
def test_refuses_to_listen_beyond_loopback(calls: Calls, host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        FastAgiServer(make_routes(calls), host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_accepts_loopback(calls: Calls, host: str) -> None:
    FastAgiServer(make_routes(calls), host=host)


def test_remote_listening_needs_explicit_consent(calls: Calls) -> None:
    FastAgiServer(make_routes(calls), host="0.0.0.0", allow_remote=True)
