"""AMI actions as typed values, and the typed response to each.

Callers build an action (``QueuePause(interface=…, paused=True, reason="break")``) and hand it to
:meth:`hotline.ami.client.AmiClient.send`; nobody assembles or reads raw AMI dicts. Every value is sent as
one header line, so a value containing a line break (which would start a header of its own) is refused
here, before it reaches Asterisk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar


class UnsafeAmiValue(ValueError):
    """A value would break out of its header line (CR or LF)."""


def _header_value(name: str, value: object) -> str:
    text = str(value)
    if "\r" in text or "\n" in text:
        raise UnsafeAmiValue(f"AMI header {name} may not contain a line break")
    return text


def _flag(value: bool) -> str:
    return "true" if value else "false"


@dataclass(frozen=True)
class AmiAction:
    """One action; subclasses name it (``action``) and give their headers."""

    action: ClassVar[str] = ""

    def fields(self) -> dict[str, object]:
        return {}

    def headers(self) -> dict[str, str | list[str]]:
        """The action as AMI headers; raises :class:`UnsafeAmiValue` for a value with a line break."""
        headers: dict[str, str | list[str]] = {"Action": self.action}
        for name, value in self.fields().items():
            if value is None:
                continue
            headers[name] = _header_value(name, value)
        return headers


@dataclass(frozen=True)
class AmiResponse:
    """What Asterisk answered: ``Success``/``Error``/``Goodbye``, its message, its other headers, and the
    events of an action that lists something (``…Complete`` included)."""

    response: str
    message: str
    fields: Mapping[str, str] = field(default_factory=dict, repr=False)
    events: tuple[Mapping[str, str], ...] = field(default=(), repr=False)

    @property
    def success(self) -> bool:
        return self.response.lower() == "success"

    @classmethod
    def from_frames(cls, frames: Mapping[str, object] | Sequence[Mapping[str, object]]) -> AmiResponse:
        """From panoramisk's answer: one message, or a list (the response, then the events)."""
        items = list(frames) if isinstance(frames, Sequence) else [frames]
        if not items:
            return cls("Error", "empty answer")
        first = {str(k): str(v) for k, v in dict(items[0]).items()}
        return cls(
            response=first.get("Response", ""),
            message=first.get("Message", ""),
            fields=first,
            events=tuple({str(k): str(v) for k, v in dict(item).items()} for item in items[1:]),
        )


# --- Session -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ping(AmiAction):
    action: ClassVar[str] = "Ping"


@dataclass(frozen=True)
class Filter(AmiAction):
    """Add an Asterisk-side event filter to this session (``!Event: X`` drops, ``Event: X`` keeps)."""

    action: ClassVar[str] = "Filter"
    expression: str

    def fields(self) -> dict[str, object]:
        return {"Operation": "Add", "Filter": self.expression}


@dataclass(frozen=True)
class Events(AmiAction):
    """Which event classes this session receives (``off`` for none)."""

    action: ClassVar[str] = "Events"
    mask: str

    def fields(self) -> dict[str, object]:
        return {"EventMask": self.mask}


# --- Channels ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Originate(AmiAction):
    """Call ``channel`` and, once answered, run ``context,exten,priority`` (or ``application``) on it."""

    action: ClassVar[str] = "Originate"
    channel: str
    context: str | None = None
    exten: str | None = None
    priority: int | None = None
    application: str | None = None
    data: str | None = None
    caller_id: str | None = None
    timeout_ms: int = 30000
    channel_id: str | None = None
    other_channel_id: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    asynchronous: bool = True

    def headers(self) -> dict[str, str | list[str]]:
        headers = super().headers()
        # Each variable is one "Variable: NAME=value" header; panoramisk sends a list as repeated headers.
        if self.variables:
            headers["Variable"] = [
                f"{_header_value('Variable', name)}={_header_value(name, value)}"
                for name, value in self.variables.items()
            ]
        return headers

    def fields(self) -> dict[str, object]:
        return {
            "Channel": self.channel,
            "Context": self.context,
            "Exten": self.exten,
            "Priority": self.priority,
            "Application": self.application,
            "Data": self.data,
            "CallerID": self.caller_id,
            "Timeout": self.timeout_ms,
            "ChannelId": self.channel_id,
            "OtherChannelId": self.other_channel_id,
            "Async": _flag(self.asynchronous),
        }


@dataclass(frozen=True)
class Hangup(AmiAction):
    action: ClassVar[str] = "Hangup"
    channel: str

    def fields(self) -> dict[str, object]:
        return {"Channel": self.channel}


@dataclass(frozen=True)
class PlayDtmf(AmiAction):
    """Send one DTMF digit on a channel (RFC 4733 on a SIP channel)."""

    action: ClassVar[str] = "PlayDTMF"
    channel: str
    digit: str
    duration_ms: int = 250
    wait: bool = True

    def fields(self) -> dict[str, object]:
        return {
            "Channel": self.channel,
            "Digit": self.digit,
            "Duration": self.duration_ms,
            # Async=false: the action returns when the digit has been sent.
            "Async": _flag(not self.wait),
        }


@dataclass(frozen=True)
class Setvar(AmiAction):
    """Set a variable on a channel, or a global one without ``channel``."""

    action: ClassVar[str] = "Setvar"
    variable: str
    value: str
    channel: str | None = None

    def fields(self) -> dict[str, object]:
        return {"Channel": self.channel, "Variable": self.variable, "Value": self.value}


@dataclass(frozen=True)
class Redirect(AmiAction):
    """Send a channel (and optionally the other side of its bridge) to a dialplan location."""

    action: ClassVar[str] = "Redirect"
    channel: str
    context: str
    exten: str
    priority: int = 1
    extra_channel: str | None = None

    def fields(self) -> dict[str, object]:
        return {
            "Channel": self.channel,
            "Context": self.context,
            "Exten": self.exten,
            "Priority": self.priority,
            "ExtraChannel": self.extra_channel,
            "ExtraContext": self.context if self.extra_channel else None,
            "ExtraExten": self.exten if self.extra_channel else None,
            "ExtraPriority": self.priority if self.extra_channel else None,
        }


# --- Queues ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueAdd(AmiAction):
    """Log a consultant into a queue. ``state_interface`` makes a member busy on any call of that device."""

    action: ClassVar[str] = "QueueAdd"
    queue: str
    interface: str
    member_name: str | None = None
    penalty: int = 0
    paused: bool = False
    reason: str | None = None
    state_interface: str | None = None

    def fields(self) -> dict[str, object]:
        return {
            "Queue": self.queue,
            "Interface": self.interface,
            "MemberName": self.member_name,
            "Penalty": self.penalty,
            "Paused": _flag(self.paused),
            "Reason": self.reason if self.paused else None,
            "StateInterface": self.state_interface,
        }


@dataclass(frozen=True)
class QueueRemove(AmiAction):
    action: ClassVar[str] = "QueueRemove"
    queue: str
    interface: str

    def fields(self) -> dict[str, object]:
        return {"Queue": self.queue, "Interface": self.interface}


@dataclass(frozen=True)
class QueuePause(AmiAction):
    """Pause or unpause a member, in one queue or (``queue`` None) in all of its queues."""

    action: ClassVar[str] = "QueuePause"
    interface: str
    paused: bool
    queue: str | None = None
    reason: str | None = None

    def fields(self) -> dict[str, object]:
        return {
            "Interface": self.interface,
            "Paused": _flag(self.paused),
            "Queue": self.queue,
            "Reason": self.reason,
        }


@dataclass(frozen=True)
class QueuePenalty(AmiAction):
    action: ClassVar[str] = "QueuePenalty"
    interface: str
    penalty: int
    queue: str | None = None

    def fields(self) -> dict[str, object]:
        return {"Interface": self.interface, "Penalty": self.penalty, "Queue": self.queue}


@dataclass(frozen=True)
class QueueStatus(AmiAction):
    """Lists ``QueueParams``, ``QueueMember`` and ``QueueEntry`` events, then ``QueueStatusComplete``."""

    action: ClassVar[str] = "QueueStatus"
    queue: str | None = None

    def fields(self) -> dict[str, object]:
        return {"Queue": self.queue}
