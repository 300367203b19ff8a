"""AMI: typed events (:mod:`.events`, a pure parser), typed actions and responses (:mod:`.actions`) and the
client (:mod:`.client`, panoramisk underneath). Services import from here."""

from hotline.ami import actions
from hotline.ami.actions import AmiAction, AmiResponse, UnsafeAmiValue
from hotline.ami.client import AmiClient, AmiError
from hotline.ami.events import (
    AgentComplete,
    AgentConnect,
    AgentRingNoAnswer,
    AgiExec,
    AmiEvent,
    ChanSpyStart,
    FullyBooted,
    Hangup,
    Newchannel,
    Newexten,
    Newstate,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueEntry,
    QueueMember,
    UserEvent,
    parse_event,
)

__all__ = [
    "AgentComplete",
    "AgentConnect",
    "AgentRingNoAnswer",
    "AgiExec",
    "AmiAction",
    "AmiClient",
    "AmiError",
    "AmiEvent",
    "AmiResponse",
    "ChanSpyStart",
    "FullyBooted",
    "Hangup",
    "Newchannel",
    "Newexten",
    "Newstate",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueEntry",
    "QueueMember",
    "UnsafeAmiValue",
    "UserEvent",
    "actions",
    "parse_event",
]
