"""AMI events as typed values: every frame becomes a frozen dataclass (:func:`parse_event`) before any service
sees it. Pure: no sockets, no panoramisk; tested from recorded frames."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AmiEvent:
    """Any event we model; ``fields`` keeps every header as Asterisk sent it."""

    name: str
    uniqueid: str
    channel: str
    fields: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class Newchannel(AmiEvent):
    linkedid: str
    context: str
    extension: str
    caller_id_num: str


@dataclass(frozen=True)
class Newexten(AmiEvent):
    linkedid: str
    context: str
    extension: str
    priority: int
    application: str
    app_data: str
    caller_id_num: str


@dataclass(frozen=True)
class Newstate(AmiEvent):
    state: int
    state_desc: str


@dataclass(frozen=True)
class Hangup(AmiEvent):
    linkedid: str
    context: str
    cause: int | None
    cause_txt: str


@dataclass(frozen=True)
class QueueCallerJoin(AmiEvent):
    queue: str
    position: int


@dataclass(frozen=True)
class QueueCallerLeave(AmiEvent):
    queue: str


@dataclass(frozen=True)
class UserEvent(AmiEvent):
    """``UserEvent(Name)`` of the dialplan, with the channel it was raised on."""

    user_event: str
    linkedid: str = ""
    context: str = ""
    extension: str = ""
    caller_id_num: str = ""


@dataclass(frozen=True)
class AgiExec(AmiEvent):
    """``AGIExecStart``/``AGIExecEnd``: a command of an AGI session, as Asterisk runs it."""

    phase: str  # "start" | "end"
    command: str
    command_id: str
    result_code: int | None
    result: str


@dataclass(frozen=True)
class FullyBooted(AmiEvent):
    pass


# Events passed on without fields of their own.
PLAIN_EVENTS = frozenset(
    {"MixMonitorStart", "MixMonitorStop", "DialBegin", "DialEnd", "BridgeEnter", "BridgeLeave"}
)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_event(frame: Mapping[str, Any]) -> AmiEvent | None:
    """Turn one AMI event frame into a typed event; None for events we do not model or broken frames."""
    headers = {str(k).lower(): str(v) for k, v in frame.items()}
    name = headers.get("event", "")
    base: dict[str, Any] = {
        "name": name,
        "uniqueid": headers.get("uniqueid", ""),
        "channel": headers.get("channel", ""),
        "fields": dict(frame),
    }
    if name == "FullyBooted":
        return FullyBooted(**base)
    if not base["uniqueid"]:
        return None
    if name == "Newchannel":
        return Newchannel(
            **base,
            linkedid=headers.get("linkedid", ""),
            context=headers.get("context", ""),
            extension=headers.get("exten", ""),
            caller_id_num=headers.get("calleridnum", ""),
        )
    if name == "Newexten":
        priority = _int(headers.get("priority"))
        if priority is None:
            return None
        return Newexten(
            **base,
            linkedid=headers.get("linkedid", ""),
            context=headers.get("context", ""),
            extension=headers.get("extension", headers.get("exten", "")),
            priority=priority,
            application=headers.get("application", ""),
            app_data=headers.get("appdata", ""),
            caller_id_num=headers.get("calleridnum", ""),
        )
    if name == "Newstate":
        state = _int(headers.get("channelstate"))
        if state is None:
            return None
        return Newstate(**base, state=state, state_desc=headers.get("channelstatedesc", ""))
    if name == "Hangup":
        return Hangup(
            **base,
            linkedid=headers.get("linkedid", ""),
            context=headers.get("context", ""),
            cause=_int(headers.get("cause")),
            cause_txt=headers.get("cause-txt", ""),
        )
    if name == "QueueCallerJoin":
        return QueueCallerJoin(
            **base, queue=headers.get("queue", ""), position=_int(headers.get("position")) or 0
        )
    if name == "QueueCallerLeave":
        return QueueCallerLeave(**base, queue=headers.get("queue", ""))
    if name == "UserEvent":
        return UserEvent(
            **base,
            user_event=headers.get("userevent", ""),
            linkedid=headers.get("linkedid", ""),
            context=headers.get("context", ""),
            extension=headers.get("exten", ""),
            caller_id_num=headers.get("calleridnum", ""),
        )
    if name in PLAIN_EVENTS:
        return AmiEvent(**base)
    if name in ("AGIExecStart", "AGIExecEnd"):
        return AgiExec(
            **base,
            phase="start" if name.endswith("Start") else "end",
            command=headers.get("command", ""),
            command_id=headers.get("commandid", ""),
            result_code=_int(headers.get("resultcode")),
            result=headers.get("result", ""),
        )
    return None
