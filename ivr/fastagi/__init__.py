"""Our asyncio FastAGI server: Asterisk's `AGI(agi://127.0.0.1:4573/<route>)` lands in one async route.

* `protocol`: the wire format, pure (header -> `AgiEnvironment`, reply line -> `AgiReply`, `format_command`);
* `connection`: `AgiConnection`, the bytes of one connection (header, reply lines, byte limits, its timer);
* `channel`: `Channel`, the typed AGI commands of one session (hang-up -> `CallerHungUp`);
* `server`: `FastAgiServer`, which accepts connections, parses headers, dispatches routes and catches their
  errors.
"""

from ivr.fastagi.channel import Channel, DigitInput
from ivr.fastagi.context import UniqueidLogFilter, current_uniqueid
from ivr.fastagi.errors import AgiCommandError, AgiError, AgiProtocolError, CallerHungUp
from ivr.fastagi.protocol import AgiEnvironment, AgiReply, format_command, parse_reply
from ivr.fastagi.server import ERROR_VARIABLE, FastAgiServer, Route

__all__ = [
    "ERROR_VARIABLE",
    "AgiCommandError",
    "AgiEnvironment",
    "AgiError",
    "AgiProtocolError",
    "AgiReply",
    "CallerHungUp",
    "Channel",
    "DigitInput",
    "FastAgiServer",
    "Route",
    "UniqueidLogFilter",
    "current_uniqueid",
    "format_command",
    "parse_reply",
]
