"""AMI: typed events (:mod:`.events`, a pure parser), typed actions and responses (:mod:`.actions`) and the
client (:mod:`.client`, panoramisk underneath). Services import from here."""

from hotline.ami import actions
from hotline.ami.actions import AmiAction, AmiResponse, UnsafeAmiValue
from hotline.ami.client import AmiClient, AmiError
from hotline.ami.events import (
    AgentConnect,
    AgentRingNoAnswer,
    AgiExec,
    AmiEvent,
    FullyBooted,
    Hangup,
    Newchannel,
    Newexten,
    Newstate,
    QueueCallerJoin,
    QueueCallerLeave,
    UserEvent,
    parse_event,
)

__all__ = [
    "AgentConnect",
    "AgentRingNoAnswer",
    "AgiExec",
    "AmiAction",
    "AmiClient",
    "AmiError",
    "AmiEvent",
    "AmiResponse",
    "FullyBooted",
    "Hangup",
    "Newchannel",
    "Newexten",
    "Newstate",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "UnsafeAmiValue",
    "UserEvent",
    "actions",
    "parse_event",
]
