"""AMI: typed events (:mod:`.events`, a pure parser), typed actions and responses (:mod:`.actions`), the
client (:mod:`.client`, panoramisk underneath) and the life of a service on a connection (:mod:`.service`).
Services import from here."""

from hotline.ami import actions
from hotline.ami.actions import AmiAction, AmiResponse, UnsafeAmiValue
from hotline.ami.client import AmiClient, AmiError, send_once
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
from hotline.ami.service import AmiService

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
    "AmiService",
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
    "send_once",
]
