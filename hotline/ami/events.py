"""AMI events as typed values: every frame becomes a frozen dataclass (:func:`parse_event`) before any service
sees it. Pure: no sockets, no panoramisk; tested from recorded frames."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, kw_only=True)
class AmiEvent:
    """Any event we model, with the channel it is about as Asterisk describes it in every channel event;
    ``fields`` keeps every header as Asterisk sent it."""

    name: str
    uniqueid: str
    channel: str
    linkedid: str = ""
    context: str = ""
    extension: str = ""
    caller_id_num: str = ""
    # When Asterisk raised the event (manager.conf timestampevents), None if it did not say.
    at: datetime | None = None
    fields: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, kw_only=True)
class Newchannel(AmiEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class Newexten(AmiEvent):
    priority: int
    application: str
    app_data: str


@dataclass(frozen=True, kw_only=True)
class Newstate(AmiEvent):
    state: int
    state_desc: str


@dataclass(frozen=True, kw_only=True)
class Hangup(AmiEvent):
    cause: int | None
    cause_txt: str


@dataclass(frozen=True, kw_only=True)
class QueueCallerJoin(AmiEvent):
    queue: str
    position: int
    # The channel's language (CHANNEL(language), which the dialplan sets to the caller's choice).
    language: str = ""


@dataclass(frozen=True, kw_only=True)
class QueueCallerLeave(AmiEvent):
    queue: str


@dataclass(frozen=True, kw_only=True)
class AgentComplete(AmiEvent):
    """A consultant's call from a queue ended: the caller's channel, and the consultant's talk time."""

    queue: str
    member: str  # the member's interface
    talk_time: int | None  # seconds
    hold_time: int | None  # seconds the caller waited
    reason: str  # caller | agent | transfer


@dataclass(frozen=True, kw_only=True)
class QueueMember(AmiEvent):
    """A consultant in a queue, as ``QueueStatus`` lists them (no channel: ``uniqueid`` is empty)."""

    queue: str
    interface: str
    member_name: str
    # The device state: 1 not in use, 2 in use, 3 busy, 4 invalid, 5 unavailable, 6 ringing…
    status: int | None
    paused: bool
    in_call: bool
    last_call: int | None  # when their last call ended, seconds since the epoch (0: none yet)
    wrapup_time: int | None  # the member's own wrap-up time in seconds (0: the queue's)
    penalty: int | None = None  # lower is offered first; the queue's rule widens the highest offered


@dataclass(frozen=True, kw_only=True)
class QueueEntry(AmiEvent):
    """A caller waiting in a queue, as ``QueueStatus`` lists them."""

    queue: str
    position: int
    wait: int | None  # seconds waited so far


@dataclass(frozen=True, kw_only=True)
class ChanSpyStart(AmiEvent):
    """A channel (``channel``, ``uniqueid``) starts spying on (or whispering to) another."""

    spyee_channel: str
    spyee_uniqueid: str


@dataclass(frozen=True, kw_only=True)
class AgentRingNoAnswer(AmiEvent):
    """A queue member's phone rang out on a caller (the event's channel is the caller's)."""

    queue: str
    interface: str


@dataclass(frozen=True, kw_only=True)
class AgentConnect(AmiEvent):
    """A queue member answered a caller (the event's channel is the caller's)."""

    queue: str
    interface: str
    hold_time: int | None


@dataclass(frozen=True, kw_only=True)
class UserEvent(AmiEvent):
    """``UserEvent(Name)`` of the dialplan, with the channel it was raised on."""

    user_event: str


@dataclass(frozen=True, kw_only=True)
class AgiExec(AmiEvent):
    """``AGIExecStart``/``AGIExecEnd``: a command of an AGI session, as Asterisk runs it."""

    phase: str  # "start" | "end"
    command: str
    command_id: str
    result_code: int | None
    result: str


@dataclass(frozen=True, kw_only=True)
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


def _time(value: str | None) -> datetime | None:
    """``Timestamp: 1764489600.123456`` (seconds since the epoch) as an aware time."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    if seconds is None or not math.isfinite(seconds) or not 0 < seconds < 2**33:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def parse_event(frame: Mapping[str, Any]) -> AmiEvent | None:
    """Turn one AMI event frame into a typed event; None for events we do not model or broken frames."""
    headers = {str(k).lower(): str(v) for k, v in frame.items()}
    name = headers.get("event", "")
    base: dict[str, Any] = {
        "name": name,
        "uniqueid": headers.get("uniqueid", ""),
        "channel": headers.get("channel", ""),
        "linkedid": headers.get("linkedid", ""),
        "context": headers.get("context", ""),
        # Newexten names the extension "Extension"; every other channel event "Exten".
        "extension": headers.get("extension", headers.get("exten", "")),
        "caller_id_num": headers.get("calleridnum", ""),
        "at": _time(headers.get("timestamp")),
        "fields": {str(k): str(v) for k, v in frame.items()},
    }
    if name == "FullyBooted":
        return FullyBooted(**base)
    if name == "QueueMember":
        return _queue_member(base, headers)
    if name == "ChanSpyStart":
        return _chanspy_start(base, headers)
    if not base["uniqueid"]:
        return None
    if name == "Newchannel":
        return Newchannel(**base)
    if name == "Newexten":
        priority = _int(headers.get("priority"))
        if priority is None:
            return None
        return Newexten(
            **base,
            priority=priority,
            application=headers.get("application", ""),
            app_data=headers.get("appdata", ""),
        )
    if name == "Newstate":
        state = _int(headers.get("channelstate"))
        if state is None:
            return None
        return Newstate(**base, state=state, state_desc=headers.get("channelstatedesc", ""))
    if name == "Hangup":
        return Hangup(**base, cause=_int(headers.get("cause")), cause_txt=headers.get("cause-txt", ""))
    if name == "QueueCallerJoin":
        return QueueCallerJoin(
            **base,
            queue=headers.get("queue", ""),
            position=_int(headers.get("position")) or 0,
            language=headers.get("language", ""),
        )
    if name == "QueueEntry":
        position = _int(headers.get("position"))
        if position is None or not headers.get("queue"):
            return None
        return QueueEntry(**base, queue=headers["queue"], position=position, wait=_int(headers.get("wait")))
    if name == "AgentComplete":
        return AgentComplete(
            **base,
            queue=headers.get("queue", ""),
            member=headers.get("interface", ""),
            talk_time=_int(headers.get("talktime")),
            hold_time=_int(headers.get("holdtime")),
            reason=headers.get("reason", ""),
        )
    if name == "QueueCallerLeave":
        return QueueCallerLeave(**base, queue=headers.get("queue", ""))
    if name == "AgentRingNoAnswer":
        return AgentRingNoAnswer(
            **base, queue=headers.get("queue", ""), interface=headers.get("interface", "")
        )
    if name == "AgentConnect":
        return AgentConnect(
            **base,
            queue=headers.get("queue", ""),
            interface=headers.get("interface", ""),
            hold_time=_int(headers.get("holdtime")),
        )
    if name == "UserEvent":
        return UserEvent(**base, user_event=headers.get("userevent", ""))
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


def _queue_member(base: dict[str, Any], headers: Mapping[str, str]) -> QueueMember | None:
    queue = headers.get("queue", "")
    interface = headers.get("stateinterface") or headers.get("location") or headers.get("interface", "")
    if not queue or not interface:
        return None
    return QueueMember(
        **base,
        queue=queue,
        interface=interface,
        member_name=headers.get("name", headers.get("membername", "")),
        status=_int(headers.get("status")),
        paused=headers.get("paused", "0") not in ("0", "", "false", "no"),
        in_call=headers.get("incall", "0") not in ("0", "", "false", "no"),
        last_call=_int(headers.get("lastcall")),
        wrapup_time=_int(headers.get("wrapuptime")),
        penalty=_int(headers.get("penalty")),
    )


def _chanspy_start(base: dict[str, Any], headers: Mapping[str, str]) -> ChanSpyStart | None:
    spyer = headers.get("spyeruniqueid", "")
    spyee = headers.get("spyeeuniqueid", "")
    if not spyer or not spyee:
        return None
    return ChanSpyStart(
        **{**base, "uniqueid": spyer, "channel": headers.get("spyerchannel", "")},
        spyee_channel=headers.get("spyeechannel", ""),
        spyee_uniqueid=spyee,
    )
