"""How a call ended up: the one list of call outcomes, stored in ``calls.outcome``.

The IVR sets ``HOTLINE_OUTCOME`` to one of these, the dialplan sets ``fallback_queue`` itself (a test checks
that every outcome literal in ``dialplans/`` is a member), the recorder and the AMI listener store them, and
the console's figures group them.
"""

from __future__ import annotations

from enum import StrEnum


class CallOutcome(StrEnum):
    # The IVR put the caller in a consultants' queue.
    QUEUED = "queued"
    # The caller heard a topic's information (or an end node) and hung up or was done.
    SELF_SERVICE = "self_service"
    # Outside consultants' hours the caller left a call-back request.
    CALLBACK_REQUESTED = "callback_requested"
    # Outside consultants' hours the caller was offered a call-back and said no.
    CALLBACK_DECLINED = "callback_declined"
    # The caller answered no question (pressed nothing, or only wrong keys): the IVR ended the call after
    # telling them the hours and offering a call-back.
    NO_INPUT = "no_input"
    # The caller hung up in the menu before anything settled.
    HUNG_UP_IN_MENU = "hung_up_in_menu"
    # The IVR could not route the call (FastAGI down, an error): the dialplan queued the caller itself.
    FALLBACK_QUEUE = "fallback_queue"
    # The caller hung up while waiting in a queue.
    ABANDONED = "abandoned"


# Calls that reached a consultants' queue, one way or another.
QUEUED_OUTCOMES = frozenset({CallOutcome.QUEUED, CallOutcome.FALLBACK_QUEUE, CallOutcome.ABANDONED})
# Calls that ended in the menu (their time in the menu lasts until the end of the call).
ENDED_IN_MENU_OUTCOMES = frozenset(
    {
        CallOutcome.SELF_SERVICE,
        CallOutcome.HUNG_UP_IN_MENU,
        CallOutcome.CALLBACK_REQUESTED,
        CallOutcome.CALLBACK_DECLINED,
        CallOutcome.NO_INPUT,
    }
)
