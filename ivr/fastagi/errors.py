"""Errors of the FastAGI layer. Each is caught once, at the edge: `FastAgiServer`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.fastagi.protocol import AgiReply


class AgiError(Exception):
    """Base class of every FastAGI error."""


class AgiProtocolError(AgiError):
    """Asterisk (or whoever is on the socket) broke the AGI protocol, or did not answer in time."""


class CallerHungUp(AgiError):
    """The channel hung up: `HANGUP`, `511` (dead channel), `result=-1`, or the connection closed."""


class AgiCommandError(AgiError):
    """Asterisk refused a command (`510`, `520`, ...) or reported a failure on a live channel."""

    def __init__(self, reply: AgiReply, message: str | None = None) -> None:
        super().__init__(message or reply.text)
        self.reply = reply
