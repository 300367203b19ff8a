"""AMI actions as typed values, and the typed response to each.

Callers build an action (``QueuePause(interface=…, paused=True, reason="break")``) and hand it to
:meth:`hotline.ami.client.AmiClient.send`; nobody assembles or reads raw AMI dicts. Every value is sent as
one header line, so a value containing a line break (which would start a header of its own) is refused
here, before it reaches Asterisk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar


class UnsafeAmiValue(ValueError):
    """A value would break out of its header line (CR or LF)."""


def _header_value(name: str, value: object) -> str:
    text = str(value)
    if "\r" in text or "\n" in text:
        raise UnsafeAmiValue(f"AMI header {name} may not contain a line break")
    return text


def header(name: str, default: Any = dataclasses.MISSING) -> Any:
    """A field of an action sent as the AMI header ``name`` (None: not sent; a bool: ``true``/``false``)."""
    return field(default=default, metadata={"header": name})


@dataclass(frozen=True)
class AmiAction:
    """One action; subclasses name it (``action``) and declare their headers with :func:`header`."""

    action: ClassVar[str] = ""
    # Whether Asterisk answers with a list of events (None: panoramisk guesses from the answer). Set False
    # where its guess is wrong: "Added interface to queue" (QueueAdd) reads to it like a list's start.
    as_list: ClassVar[bool | None] = None

    def extra_headers(self) -> dict[str, object]:
        """Headers computed from the fields (for an action whose headers depend on each other)."""
        return {}

    def headers(self) -> dict[str, str | list[str]]:
        """The action as AMI headers; raises :class:`UnsafeAmiValue` for a value with a line break."""
        declared = {
            f.metadata["header"]: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if "header" in f.metadata
        }
        headers: dict[str, str | list[str]] = {"Action": self.action}
        for name, value in {**declared, **self.extra_headers()}.items():
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
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
class Reload(AmiAction):
    """Reload one module's configuration (class "system": only the configuration user may)."""

    action: ClassVar[str] = "Reload"
    module: str = header("Module")


@dataclass(frozen=True)
class LoggerRotate(AmiAction):
    """Rotate Asterisk's log files (class "system": only the configuration user may)."""

    action: ClassVar[str] = "LoggerRotate"


@dataclass(frozen=True)
class Events(AmiAction):
    """Which event classes this session receives (``off`` for none)."""

    action: ClassVar[str] = "Events"
    mask: str = header("EventMask")


# --- Channels ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Originate(AmiAction):
    """Call ``channel`` and, once answered, run ``context,exten,priority`` (or ``application``) on it."""

    action: ClassVar[str] = "Originate"
    channel: str = header("Channel")
    context: str | None = header("Context", None)
    exten: str | None = header("Exten", None)
    priority: int | None = header("Priority", None)
    application: str | None = header("Application", None)
    data: str | None = header("Data", None)
    caller_id: str | None = header("CallerID", None)
    timeout_ms: int = header("Timeout", 30000)
    channel_id: str | None = header("ChannelId", None)
    other_channel_id: str | None = header("OtherChannelId", None)
    variables: Mapping[str, str] = field(default_factory=dict)
    asynchronous: bool = header("Async", True)

    def headers(self) -> dict[str, str | list[str]]:
        headers = super().headers()
        # Each variable is one "Variable: NAME=value" header; panoramisk sends a list as repeated headers.
        if self.variables:
            headers["Variable"] = [
                f"{_header_value('Variable', name)}={_header_value(name, value)}"
                for name, value in self.variables.items()
            ]
        return headers


@dataclass(frozen=True)
class Status(AmiAction):
    """Lists every channel (``Status`` events, then ``StatusComplete``); class "call"."""

    action: ClassVar[str] = "Status"
    as_list: ClassVar[bool | None] = True


@dataclass(frozen=True)
class QueuedOriginate(Originate):
    """An Originate whose answer is only "successfully queued": what becomes of the call is followed in its
    events (a placeholder may wait hours for its answer; :class:`Originate` waits for it)."""

    as_list: ClassVar[bool | None] = False


@dataclass(frozen=True)
class Hangup(AmiAction):
    action: ClassVar[str] = "Hangup"
    channel: str = header("Channel")


@dataclass(frozen=True)
class PlayDtmf(AmiAction):
    """Send one DTMF digit on a channel (RFC 4733 on a SIP channel)."""

    action: ClassVar[str] = "PlayDTMF"
    channel: str = header("Channel")
    digit: str = header("Digit")
    duration_ms: int = header("Duration", 250)
    wait: bool = True

    def extra_headers(self) -> dict[str, object]:
        # Async=false: the action returns when the digit has been sent.
        return {"Async": not self.wait}


@dataclass(frozen=True)
class Setvar(AmiAction):
    """Set a variable on a channel, or a global one without ``channel``."""

    action: ClassVar[str] = "Setvar"
    variable: str = header("Variable")
    value: str = header("Value")
    channel: str | None = header("Channel", None)


@dataclass(frozen=True)
class Getvar(AmiAction):
    """Read a variable (or a function such as ``CHANNEL(language)``) of a channel."""

    action: ClassVar[str] = "Getvar"
    variable: str = header("Variable")
    channel: str | None = header("Channel", None)


@dataclass(frozen=True)
class Redirect(AmiAction):
    """Send a channel (and optionally the other side of its bridge) to a dialplan location."""

    action: ClassVar[str] = "Redirect"
    channel: str = header("Channel")
    context: str = header("Context")
    exten: str = header("Exten")
    priority: int = header("Priority", 1)
    extra_channel: str | None = header("ExtraChannel", None)

    def extra_headers(self) -> dict[str, object]:
        if self.extra_channel is None:
            return {}
        return {"ExtraContext": self.context, "ExtraExten": self.exten, "ExtraPriority": self.priority}


@dataclass(frozen=True)
class Atxfer(AmiAction):
    """Start an attended transfer on ``channel`` (as its attended-transfer feature) to ``context,exten``:
    the channel talks to the target first; the transfer completes when it hangs up."""

    action: ClassVar[str] = "Atxfer"
    # "Atxfer successfully queued" reads to panoramisk like a list's start.
    as_list: ClassVar[bool | None] = False
    channel: str = header("Channel")
    context: str = header("Context")
    exten: str = header("Exten")


# --- Queues ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueAdd(AmiAction):
    """Log a consultant into a queue. ``state_interface`` makes a member busy on any call of that device."""

    action: ClassVar[str] = "QueueAdd"
    as_list: ClassVar[bool | None] = False
    queue: str = header("Queue")
    interface: str = header("Interface")
    member_name: str | None = header("MemberName", None)
    penalty: int = header("Penalty", 0)
    paused: bool = header("Paused", False)
    reason: str | None = None
    state_interface: str | None = header("StateInterface", None)

    def extra_headers(self) -> dict[str, object]:
        return {"Reason": self.reason if self.paused else None}


@dataclass(frozen=True)
class QueueRemove(AmiAction):
    action: ClassVar[str] = "QueueRemove"
    queue: str = header("Queue")
    interface: str = header("Interface")


@dataclass(frozen=True)
class QueuePause(AmiAction):
    """Pause or unpause a member, in one queue or (``queue`` None) in all of its queues."""

    action: ClassVar[str] = "QueuePause"
    interface: str = header("Interface")
    paused: bool = header("Paused")
    queue: str | None = header("Queue", None)
    reason: str | None = header("Reason", None)


@dataclass(frozen=True)
class QueuePenalty(AmiAction):
    action: ClassVar[str] = "QueuePenalty"
    interface: str = header("Interface")
    penalty: int = header("Penalty")
    queue: str | None = header("Queue", None)


@dataclass(frozen=True)
class QueueStatus(AmiAction):
    """Lists ``QueueParams``, ``QueueMember`` and ``QueueEntry`` events, then ``QueueStatusComplete``."""

    action: ClassVar[str] = "QueueStatus"
    queue: str | None = header("Queue", None)
