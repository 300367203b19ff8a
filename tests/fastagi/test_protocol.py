"""Unit tests of the pure AGI wire format: header, replies, command escaping."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from ivr.fastagi import AgiEnvironment, AgiProtocolError, format_command, parse_reply
from ivr.fastagi.protocol import (
    MAX_COMMAND_BYTES,
    ReplyAssembler,
    is_hangup_line,
    parse_header_line,
    reply_continues,
)

from .agi_args import asterisk_parse_args
from .peer import agi_header


def header_lines(
    network_script: str = "menu", *, callerid: str = "48600100200", arguments: Iterable[str] = ()
) -> list[str]:
    return agi_header(network_script, callerid=callerid, arguments=arguments).decode().split("\n")[:-2]


# ------------------------------------------------------------------------------------------------ header


def test_environment_from_asterisk_header() -> None:
    env = AgiEnvironment.from_lines(header_lines("menu?lang=pl&skill=", arguments=["a b", "", "ż"]))

    assert env.uniqueid == "1700000000.1"
    assert env.channel == "PJSIP/caller-00000001"
    assert env.callerid == "48600100200"
    assert env.caller_number == "48600100200"
    assert env.calleridname == "Jan Kowalski"
    assert (env.context, env.extension, env.priority, env.language) == ("hotline-ivr", "19524", "3", "pl")
    assert env.network_script == "menu?lang=pl&skill="
    assert env.route == "menu"
    assert env.query == {"lang": "pl", "skill": ""}
    assert env.arguments == ("a b", "", "ż")
    assert env.raw["agi_accountcode"] == ""
    assert env.raw["agi_rdnis"] == "unknown"
    assert all(key.startswith("agi_") for key in env.raw)


def test_environment_route_without_leading_slash_and_withheld_caller() -> None:
    env = AgiEnvironment.from_lines(header_lines("/callback/offer", callerid="unknown"))

    assert env.route == "callback/offer"
    assert env.query == {}
    assert env.arguments == ()
    assert env.callerid == "unknown"
    assert env.caller_number is None
    # The same rule as every other reader of caller IDs (hotline.phone): "anonymous" is withheld too.
    anonymous = AgiEnvironment.from_lines(header_lines("/ivr", callerid="anonymous"))
    assert anonymous.caller_number is None


def test_environment_value_may_contain_colon_space() -> None:
    lines = [*header_lines(), "agi_calleridname: Biuro: PUP Kraków"]
    lines = [line for line in lines if not line.startswith("agi_calleridname: Jan")]

    assert AgiEnvironment.from_lines(lines).calleridname == "Biuro: PUP Kraków"


def test_environment_is_immutable() -> None:
    env = AgiEnvironment.from_lines(header_lines())

    with pytest.raises(AttributeError):
        env.route = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        env.raw["agi_channel"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(["GET / HTTP/1.1"], id="http"),
        pytest.param(["agi_network_script menu", "agi_uniqueid: 1.1"], id="no-colon-space"),
        pytest.param(["x_network_script: menu", "agi_uniqueid: 1.1"], id="not-agi-key"),
        pytest.param(["AGI_NETWORK_SCRIPT: menu", "agi_uniqueid: 1.1"], id="upper-case-key"),
        pytest.param(["agi_uniqueid: 1.1"], id="no-network-script"),
        pytest.param(["agi_network_script: menu"], id="no-uniqueid"),
        pytest.param(["agi_network_script: menu", "agi_uniqueid: "], id="empty-uniqueid"),
        pytest.param(["agi_network_script: a", "agi_network_script: b", "agi_uniqueid: 1"], id="duplicate"),
        pytest.param(["agi_network_script: a", "agi_uniqueid: 1", "agi_arg_2: x"], id="arg-gap"),
        pytest.param(["agi_network_script: a", "agi_uniqueid: 1", ""], id="blank-line-inside"),
        pytest.param(["\x00\x01\x02"], id="binary"),
    ],
)
def test_environment_rejects_garbage(lines: list[str]) -> None:
    with pytest.raises(AgiProtocolError):
        AgiEnvironment.from_lines(lines)


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(header_lines("menu?lang=pl", arguments=["a b", "", "ż"]), id="honest"),
        pytest.param(header_lines("menu"), id="no-arguments"),
        pytest.param([f"{line}\r" for line in header_lines("menu")], id="crlf"),
        pytest.param(["agi_network_script: a", "agi_uniqueid: 1", "agi_accountcode:"], id="empty-values"),
        pytest.param(["agi_network_script: a: b", "agi_uniqueid: 1", "agi_x:  two"], id="colons-spaces"),
        pytest.param(["agi_network_script: a", "agi_uniqueid: 1", "xagi_y: 2"], id="prefixed-key"),
        pytest.param(["agi_network_script: a", "agi_uniqueid: 1", "agi_y:2"], id="no-space"),
        pytest.param(["agi_network_script: a", "agi_network_script: b", "agi_uniqueid: 1"], id="duplicate"),
        pytest.param(["agi_network_script: a", "agi_uniqueid: 1", "agi_arg_2: x"], id="arg-gap"),
        pytest.param(["agi_network_script: a", "agi_uniqueid: 1", ""], id="blank-line-inside"),
        pytest.param([], id="empty"),
    ],
)
def test_environment_from_header_agrees_with_from_lines(lines: list[str]) -> None:
    """The one-pass parse of the server gives what the line-by-line parse gives, or the same error."""
    text = "".join(f"{line}\n" for line in lines)
    try:
        expected: AgiEnvironment | str = AgiEnvironment.from_lines(lines)
    except AgiProtocolError as exc:
        expected = str(exc)
    try:
        got: AgiEnvironment | str = AgiEnvironment.from_header(text)
    except AgiProtocolError as exc:
        got = str(exc)
    assert got == expected


def test_header_line_split() -> None:
    assert parse_header_line("agi_channel: PJSIP/x-1\n") == ("agi_channel", "PJSIP/x-1")
    assert parse_header_line("agi_accountcode: ") == ("agi_accountcode", "")
    assert parse_header_line("agi_accountcode:") == ("agi_accountcode", "")


# ------------------------------------------------------------------------------------------------ replies


def test_reply_with_data_and_extras() -> None:
    reply = parse_reply("200 result=1 (timeout) endpos=1234\n")

    assert (reply.code, reply.result, reply.data) == (200, "1", "timeout")
    assert reply.extras == {"endpos": "1234"}
    assert reply.text == "200 result=1 (timeout) endpos=1234"
    assert reply.result_int == 1


@pytest.mark.parametrize(
    ("line", "code", "result", "data", "extras"),
    [
        ("200 result=", 200, "", None, {}),
        ("200 result= (timeout)", 200, "", "timeout", {}),
        ("200 result=-1", 200, "-1", None, {}),
        ("200 result=0 endpos=8000", 200, "0", None, {"endpos": "8000"}),
        ("200 result=-1 endpos=0", 200, "-1", None, {"endpos": "0"}),
        ("200 result=1 ()", 200, "1", "", {}),
        ("200 result=1 (Jan (biuro) Kowalski)", 200, "1", "Jan (biuro) Kowalski", {}),
        ("200 result=1 (a) b=(c)", 200, "1", "a) b=(c", {}),
        ("200 result=1 (speech) endpos=0 results=1", 200, "1", "speech", {"endpos": "0", "results": "1"}),
        ("200 result=49\r", 200, "49", None, {}),
        ("510 Invalid or unknown command", 510, "", None, {}),
        ("511 Command Not Permitted on a dead channel or intercept routine", 511, "", None, {}),
        ("520 Invalid command syntax.  Proper usage not available.", 520, "", None, {}),
        ("100 result=0 Trying...", 100, "0", None, {}),
    ],
)
def test_reply_variants(line: str, code: int, result: str, data: str | None, extras: dict[str, str]) -> None:
    reply = parse_reply(line)

    assert (reply.code, reply.result, reply.data, dict(reply.extras)) == (code, result, data, extras)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "HANGUP",
        "hello",
        "200",
        "200 ok",
        "2000 result=1",
        "600 result=1",
        "200 result=1 (unclosed",
        "abc 200",
    ],
)
def test_reply_garbage(line: str) -> None:
    with pytest.raises(AgiProtocolError):
        parse_reply(line)


def test_non_numeric_result_is_a_protocol_error() -> None:
    with pytest.raises(AgiProtocolError):
        _ = parse_reply("200 result=abc").result_int


def test_hangup_line() -> None:
    assert is_hangup_line("HANGUP\n")
    assert not is_hangup_line("200 result=1 (HANGUP)")


def test_multi_line_usage_reply() -> None:
    lines = [
        "520-Invalid command syntax.  Proper usage follows:",
        " Usage: STREAM FILE <filename> <escape_digits> [sample offset]",
        "520 not the end: another code's line",
        "520 End of proper usage.",
    ]
    assembler = ReplyAssembler()

    assert reply_continues(lines[0])
    assert not reply_continues(lines[3])
    assert [assembler.feed(line) for line in lines[:2]] == [None, None]
    reply = assembler.feed(lines[2])

    assert reply is not None
    assert reply.code == 520
    assert reply.data == " Usage: STREAM FILE <filename> <escape_digits> [sample offset]"
    assert reply.text == "\n".join(lines[:3])
    # The assembler is ready for the next reply.
    next_reply = assembler.feed(lines[3])
    assert next_reply is not None and next_reply.code == 520


def test_multi_line_usage_glued_to_its_end_line() -> None:
    """res_agi prints the usage with "%s": when it lacks a final newline the end line is glued to it."""
    assembler = ReplyAssembler()

    assert assembler.feed("520-Invalid command syntax.  Proper usage follows:") is None
    reply = assembler.feed("Usage: WAIT FOR DIGIT <timeout>520 End of proper usage.")

    assert reply is not None and reply.code == 520
    assert reply.data == "Usage: WAIT FOR DIGIT <timeout>"


def test_assembler_skips_trying_and_bounds_usage() -> None:
    assembler = ReplyAssembler(max_lines=3)
    assert assembler.feed("100 result=0 Trying...") is None
    reply = assembler.feed("200 result=0")
    assert reply is not None and reply.code == 200

    assembler.feed("520-Invalid command syntax.  Proper usage follows:")
    assembler.feed("a")
    assembler.feed("b")
    with pytest.raises(AgiProtocolError):
        assembler.feed("c")


# ------------------------------------------------------------------------------------------------ commands


def test_format_command_quotes_every_argument() -> None:
    assert format_command("ANSWER") == b"ANSWER\n"
    assert format_command("GET DATA", "menu/welcome", 5000, 4) == b'GET DATA "menu/welcome" "5000" "4"\n'
    assert format_command("STREAM FILE", "beep", "") == b'STREAM FILE "beep" ""\n'


def test_format_command_escapes_quote_and_backslash() -> None:
    line = format_command("SET VARIABLE", "X", 'a"b\\c')

    assert line == b'SET VARIABLE "X" "a\\"b\\\\c"\n'
    assert asterisk_parse_args(line.decode()[:-1]) == ["SET", "VARIABLE", "X", 'a"b\\c']


@pytest.mark.parametrize(
    "value",
    [
        '1" \n HANGUP',
        "x\r\nEXEC System rm",
        "nul\0byte",
        "\n",
        "\r",
    ],
)
def test_format_command_refuses_line_breaks_and_nul(value: str) -> None:
    with pytest.raises(ValueError):
        format_command("SET VARIABLE", "X", value)


@pytest.mark.parametrize(
    "value",
    [
        '1" HANGUP "',
        '" "EXEC" "System" "',
        "\\",
        '\\"',
        "end\\",
        "tab\tand  spaces ",
        "",
        '"',
        '""',
        "ąęł ż \" ' ` $ ${CALLERID(num)} , ; |",
    ],
)
def test_format_command_value_is_always_exactly_one_argument(value: str) -> None:
    line = format_command("SET VARIABLE", "X", value, "tail")

    assert asterisk_parse_args(line.decode()[:-1]) == ["SET", "VARIABLE", "X", value, "tail"]


@pytest.mark.parametrize("name", ["answer", "SET  VARIABLE", " ANSWER", "ANSWER\n", 'SET "X"', "EXEC;", ""])
def test_format_command_validates_name(name: str) -> None:
    with pytest.raises(ValueError):
        format_command(name)


def test_format_command_refuses_a_line_asterisk_would_split() -> None:
    prefix = len(b'SET VARIABLE "X" ""\n')
    format_command("SET VARIABLE", "X", "a" * (MAX_COMMAND_BYTES - prefix))
    with pytest.raises(ValueError):
        format_command("SET VARIABLE", "X", "a" * (MAX_COMMAND_BYTES - prefix + 1))
    with pytest.raises(ValueError):  # the limit is in bytes: "ż" is two
        format_command("SET VARIABLE", "X", "ż" * ((MAX_COMMAND_BYTES - prefix) // 2 + 1))


def test_format_command_refuses_other_types() -> None:
    with pytest.raises(ValueError):
        format_command("VERBOSE", True)
    with pytest.raises(ValueError):
        format_command("VERBOSE", 1.5)  # type: ignore[arg-type]
