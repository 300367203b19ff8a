"""Typed AMI actions: the headers each sends, and no value can break out of its header line."""

from __future__ import annotations

import pytest

from hotline.ami import AmiResponse, UnsafeAmiValue, actions


def test_originate_sends_its_variables_as_repeated_headers() -> None:
    action = actions.Originate(
        channel="PJSIP/19524@loopback",
        context="testcall-caller",
        exten="s",
        priority=1,
        caller_id='"Test" <+48600100200>',
        variables={"HOTLINE_TESTCALL_ID": "abc", "X": "1"},
    )
    assert action.headers() == {
        "Action": "Originate",
        "Channel": "PJSIP/19524@loopback",
        "Context": "testcall-caller",
        "Exten": "s",
        "Priority": "1",
        "CallerID": '"Test" <+48600100200>',
        "Timeout": "30000",
        "Async": "true",
        "Variable": ["HOTLINE_TESTCALL_ID=abc", "X=1"],
    }


def test_queue_actions_carry_pause_state_and_reason() -> None:
    assert actions.QueueAdd(
        queue="jobs", interface="PJSIP/c1", member_name="Anna", paused=True, reason="przerwa"
    ).headers() == {
        "Action": "QueueAdd",
        "Queue": "jobs",
        "Interface": "PJSIP/c1",
        "MemberName": "Anna",
        "Penalty": "0",
        "Paused": "true",
        "Reason": "przerwa",
    }
    # A reason means nothing to a member who is not paused: it is not sent.
    assert "Reason" not in actions.QueueAdd(queue="jobs", interface="PJSIP/c1", reason="x").headers()
    assert actions.QueuePause(interface="PJSIP/c1", paused=False).headers() == {
        "Action": "QueuePause",
        "Interface": "PJSIP/c1",
        "Paused": "false",
    }


def test_redirect_moves_the_other_leg_only_when_named() -> None:
    alone = actions.Redirect(channel="PJSIP/c1-1", context="hotline-queues", exten="ecam").headers()
    assert "ExtraChannel" not in alone and "ExtraContext" not in alone
    both = actions.Redirect(
        channel="PJSIP/c1-1", context="hotline-queues", exten="ecam", extra_channel="PJSIP/t-2"
    ).headers()
    assert both["ExtraChannel"] == "PJSIP/t-2" and both["ExtraExten"] == "ecam"


@pytest.mark.parametrize("value", ["x\r\nAction: Command", "x\nCommand: core stop now", "x\r"])
def test_a_value_with_a_line_break_is_refused(value: str) -> None:
    with pytest.raises(UnsafeAmiValue):
        actions.Hangup(channel=value).headers()
    with pytest.raises(UnsafeAmiValue):
        actions.Originate(channel="PJSIP/x", variables={"A": value}).headers()
    with pytest.raises(UnsafeAmiValue):
        actions.Originate(channel="PJSIP/x", variables={value: "1"}).headers()


def test_responses_are_read_from_one_message_or_a_listing() -> None:
    ok = AmiResponse.from_frames({"Response": "Success", "Message": "Pong"})
    assert ok.success and ok.message == "Pong" and ok.events == ()
    listing = AmiResponse.from_frames(
        [
            {"Response": "Success", "EventList": "start"},
            {"Event": "QueueMember", "Queue": "jobs"},
            {"Event": "QueueStatusComplete"},
        ]
    )
    assert listing.success and [e["Event"] for e in listing.events] == ["QueueMember", "QueueStatusComplete"]
    assert not AmiResponse.from_frames([]).success
