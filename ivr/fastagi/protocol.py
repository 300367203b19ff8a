"""The AGI wire format, as pure functions: header lines in, typed values out; typed commands in, bytes out.

Nothing here touches a socket. The rules follow Asterisk's `res/res_agi.c`:

* the header is `agi_<name>: <value>` lines ended by an empty line (`launch_netscript` + `setup_env`);
* a command is one line of at most `MAX_COMMAND_BYTES` bytes, split into arguments by `parse_args`
  (whitespace separates, double quotes group, a backslash makes the next character literal);
* a reply is `<code> result=<value> [(<data>)] [key=value ...]`, or `510 ...`, `511 ...`, or the multi-line
  `520-...` / `520 End of proper usage.`; a bare `HANGUP` line announces that the channel hung up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl

from hotline.phone import is_withheld
from ivr.fastagi.errors import AgiProtocolError

__all__ = [
    "HANGUP_LINE",
    "MAX_COMMAND_BYTES",
    "AgiEnvironment",
    "AgiReply",
    "ReplyAssembler",
    "format_command",
    "is_hangup_line",
    "parse_header_line",
    "parse_reply",
    "reply_continues",
]

#: res_agi reads a command with `fgets` into a 2048-byte buffer: a longer line is cut and its tail is read
#: as the NEXT command. So a command line, newline included, must fit in 2047 bytes.
MAX_COMMAND_BYTES = 2047

#: The line FastAGI sends (unless AGISIGHUP=no) when the channel hangs up.
HANGUP_LINE = "HANGUP"

_HEADER_KEY = re.compile(r"agi_[a-z0-9_]+", re.ASCII)
#: A whole header line as `parse_header_line` accepts it, for a header without CR.
_HEADER_LINES = re.compile(r"^(agi_[a-z0-9_]+):(?: (.*))?\n", re.ASCII | re.MULTILINE)
_ARG_KEY = re.compile(r"agi_arg_([1-9][0-9]*)", re.ASCII)
_COMMAND_NAME = re.compile(r"[A-Z]+(?: [A-Z]+)*")
_valid_names: set[str] = set()

_REPLY = re.compile(r"([1-5][0-9]{2})(?:([ -])(.*))?", re.DOTALL)
_EXTRA = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*?)(?=\s+[A-Za-z_][A-Za-z0-9_]*=|\s*$)", re.DOTALL)
_EXTRAS = re.compile(r"\s*(?:[A-Za-z_][A-Za-z0-9_]*=.*)?", re.DOTALL)
_USAGE_END = "520 End of proper usage."


def _strip_eol(line: str) -> str:
    return line.removesuffix("\n").removesuffix("\r")


def _frozen(mapping: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(mapping) if mapping else _EMPTY


_EMPTY: Mapping[str, str] = MappingProxyType({})


# --------------------------------------------------------------------------------------------- environment


def parse_header_line(line: str) -> tuple[str, str]:
    """Split one header line (`agi_channel: PJSIP/...`) into key and value; garbage -> `AgiProtocolError`."""
    key, colon, value = _strip_eol(line).partition(":")
    if colon and _HEADER_KEY.fullmatch(key) and (not value or value[0] == " "):
        return key, value[1:]
    raise AgiProtocolError(f"not an AGI header line: {line[:80]!r}")


@dataclass(frozen=True, slots=True)
class AgiEnvironment:
    """The `agi_*` variables Asterisk sends when a FastAGI session starts."""

    uniqueid: str
    channel: str
    callerid: str
    calleridname: str
    context: str
    extension: str
    priority: str
    language: str
    network_script: str
    route: str
    arguments: tuple[str, ...]
    query: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    raw: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> AgiEnvironment:
        """Build the environment from the header lines (without the terminating empty line)."""
        raw: dict[str, str] = {}
        for line in lines:
            key, value = parse_header_line(line)
            if key in raw:
                raise AgiProtocolError(f"duplicate AGI header {key}")
            raw[key] = value
        return cls._from_raw(raw)

    @classmethod
    def from_header(cls, text: str) -> AgiEnvironment:
        """Build the environment from the header as received: lines each ended by a newline, without the
        terminating empty line. Same rules as `from_lines`, in one regular-expression pass."""
        if "\r" not in text:  # a CR ending a line is not part of its value: CRLF headers take the slow way
            pairs = _HEADER_LINES.findall(text)
            raw = dict(pairs)
            if len(raw) == len(pairs) == text.count("\n"):  # every line matched, no key twice
                return cls._from_raw(raw, numbered_arguments="agi_arg_" in text)
        # Some line did not match (garbage, duplicate): the line by line parse says which and why.
        return cls.from_lines(text.split("\n")[:-1])

    @classmethod
    def _from_raw(cls, raw: dict[str, str], *, numbered_arguments: bool = True) -> AgiEnvironment:
        for required in ("agi_network_script", "agi_uniqueid"):
            if not raw.get(required):
                raise AgiProtocolError(f"AGI header without {required}")

        network_script = raw["agi_network_script"]
        path, _, query_string = network_script.partition("?")
        numbered: list[tuple[int, str]] = []
        if numbered_arguments:  # False: the header has no agi_arg_ at all, no need to look at each key
            for key, value in raw.items():
                if key.startswith("agi_arg_") and (match := _ARG_KEY.fullmatch(key)) is not None:
                    numbered.append((int(match.group(1)), value))
        if numbered:
            numbered.sort()
            if [index for index, _ in numbered] != list(range(1, len(numbered) + 1)):
                raise AgiProtocolError("AGI header with non-consecutive agi_arg_N")
        query = _frozen(dict(parse_qsl(query_string, keep_blank_values=True))) if query_string else _EMPTY

        return cls(
            uniqueid=raw["agi_uniqueid"],
            channel=raw.get("agi_channel", ""),
            callerid=raw.get("agi_callerid", ""),
            calleridname=raw.get("agi_calleridname", ""),
            context=raw.get("agi_context", ""),
            extension=raw.get("agi_extension", ""),
            priority=raw.get("agi_priority", ""),
            language=raw.get("agi_language", ""),
            network_script=network_script,
            route=path.lstrip("/"),
            arguments=tuple(value for _, value in numbered),
            query=query,
            raw=_frozen(raw),
        )

    @property
    def caller_number(self) -> str | None:
        """The caller's number, or None when withheld (the one rule of :mod:`hotline.phone`) or empty."""
        return None if is_withheld(self.callerid) else self.callerid


# --------------------------------------------------------------------------------------------- commands


def _quote(value: str) -> str:
    if '"' in value or "\\" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + value + '"'


def format_command(name: str, *args: str | int) -> bytes:
    """One AGI command line, every argument double-quoted so that no value can add an argument or a command.

    Raises `ValueError` for a name that is not upper-case words, for CR, LF or NUL anywhere, and for a line
    longer than `MAX_COMMAND_BYTES` (Asterisk would run its tail as a second command).
    """
    if name not in _valid_names:
        if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name):
            raise ValueError(f"invalid AGI command name: {name!r}")
        _valid_names.add(name)
    words = [name]
    for arg in args:
        if isinstance(arg, str):
            words.append(_quote(arg))
        elif isinstance(arg, int) and not isinstance(arg, bool):
            words.append(_quote(str(arg)))
        else:
            raise ValueError(f"AGI arguments are str or int, not {type(arg).__name__}")
    text = " ".join(words)
    if args and ("\n" in text or "\r" in text or "\0" in text):  # one look covers every argument
        raise ValueError(f"CR, LF or NUL in an argument of AGI command {name}")
    line = (text + "\n").encode("utf-8")
    if len(line) > MAX_COMMAND_BYTES:
        raise ValueError(f"AGI command {name} is {len(line)} bytes long, the limit is {MAX_COMMAND_BYTES}")
    return line


# --------------------------------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class AgiReply:
    """One reply from Asterisk. `data` is the text in parentheses; for a multi-line 520, the usage text."""

    code: int
    result: str
    data: str | None
    extras: Mapping[str, str]
    text: str

    @property
    def result_int(self) -> int:
        """`result` as an int; `AgiProtocolError` if it is not one."""
        try:
            return int(self.result)
        except ValueError:
            raise AgiProtocolError(f"non-numeric AGI result in {self.text!r}") from None


def is_hangup_line(line: str) -> bool:
    """True for the bare `HANGUP` line FastAGI sends when the channel hangs up."""
    return _strip_eol(line).strip() == HANGUP_LINE


def reply_continues(line: str) -> bool:
    """True when `line` opens a multi-line reply (`520-Invalid command syntax.  Proper usage follows:`)."""
    return len(line) >= 4 and line[:3].isdigit() and line[3] == "-"


def _split_tail(tail: str, text: str) -> tuple[str | None, dict[str, str]]:
    """Split what follows `result=X` into the parenthesised data and the `key=value` extras."""
    tail = tail.strip()
    data: str | None = None
    if tail.startswith("("):
        # The data may itself contain parentheses (a variable's value): take the last `)` after which only
        # `key=value` extras follow.
        close = len(tail)
        while True:
            close = tail.rfind(")", 0, close)
            if close < 0:
                raise AgiProtocolError(f"unbalanced parenthesis in AGI reply {text!r}")
            after = tail[close + 1 :]
            if not after or (after[0].isspace() and _EXTRAS.fullmatch(after)):
                break
        data = tail[1:close]
        tail = tail[close + 1 :].strip()
    if not tail:
        return data, {}
    if len(tail.split()) == 1:  # one `key=value` (`endpos=1234`): what the patterns below would find
        key, equals, value = tail.partition("=")
        if equals and key.isascii() and key.isidentifier():
            return data, {key: value}
    if not _EXTRAS.fullmatch(tail):
        raise AgiProtocolError(f"unexpected text in AGI reply {text!r}")
    return data, {key: value for key, value in _EXTRA.findall(tail)}


def parse_reply(line: str) -> AgiReply:
    """Parse one reply line. A `520-` line parses too; use `ReplyAssembler` to read the lines that follow."""
    text = _strip_eol(line)
    if text.startswith("200 result="):  # nearly every reply: what the general pattern below would find
        code, rest = 200, text[4:]
    else:
        match = _REPLY.fullmatch(text)
        if match is None:
            raise AgiProtocolError(f"not an AGI reply: {text[:80]!r}")
        digits, separator, rest = match.groups()
        code = int(digits)
        if separator == "-" or not rest or not rest.startswith("result="):
            if code == 200:
                raise AgiProtocolError(f"AGI reply 200 without result=: {text[:80]!r}")
            return AgiReply(code=code, result="", data=None, extras=_EMPTY, text=text)
    result, _, tail = rest[7:].partition(" ")
    if code == 100 or not tail or tail.isspace():  # `100 result=0 Trying...`: free text after the result
        return AgiReply(code=code, result=result, data=None, extras=_EMPTY, text=text)
    data, extras = _split_tail(tail, text)
    return AgiReply(code=code, result=result, data=data, extras=_frozen(extras), text=text)


class ReplyAssembler:
    """Feed it reply lines one by one; it returns the reply once complete.

    It skips `100 Trying...` lines and gathers a multi-line `520-` reply up to `520 End of proper usage.`
    (also when Asterisk glued that line to the end of a usage text without a newline). `HANGUP` lines are
    not replies: check `is_hangup_line` before feeding.
    """

    def __init__(self, max_lines: int = 500) -> None:
        self._lines: list[str] = []
        self._max_lines = max_lines

    def feed(self, line: str) -> AgiReply | None:
        line = _strip_eol(line)
        if not self._lines:
            reply = parse_reply(line)
            if reply_continues(line):
                self._lines.append(line)
                return None
            return None if reply.code == 100 else reply
        self._lines.append(line)
        code = self._lines[0][:3]
        if line.startswith(f"{code} ") or line.endswith(_USAGE_END):
            lines, self._lines = self._lines, []
            body = lines[1:-1]
            if not line.startswith(f"{code} "):
                body.append(line.removesuffix(_USAGE_END))
            return AgiReply(int(code), "", "\n".join(body), _EMPTY, "\n".join(lines))
        if len(self._lines) > self._max_lines:
            raise AgiProtocolError(f"multi-line AGI reply longer than {self._max_lines} lines")
        return None
