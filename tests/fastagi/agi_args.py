"""A Python port of Asterisk's `parse_args` (res/res_agi.c), to check what Asterisk reads from our lines."""

from __future__ import annotations

MAX_ARGS = 128


def asterisk_parse_args(line: str) -> list[str]:
    """Split one command line (without its newline) into argv exactly as res_agi does."""
    argv: list[list[str]] = []
    quoted = escaped = False
    whitespace = True
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                argv.append([])
                whitespace = False
            continue
        if char in " \t" and not quoted and not escaped:
            whitespace = True
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            if len(argv) >= MAX_ARGS - 1:
                continue
            argv.append([])
            whitespace = False
        argv[-1].append(char)
        escaped = False
    return ["".join(chars) for chars in argv]
