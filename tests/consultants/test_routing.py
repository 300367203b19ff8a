"""Who is offered a caller: the penalties a consultant's skills give in each topic-and-language queue."""

from hotline.queues import REACH_MAX_PENALTY, Skill, topic_of
from tests.data import QUEUES

UK_JOBS_EXPERT = [Skill("jobs", "uk", 3), Skill("jobs", "pl", 1)]


def test_the_topic_in_the_callers_language_comes_first_the_better_level_before() -> None:
    expert = QUEUES.penalty(UK_JOBS_EXPERT, "jobs", "uk")
    beginner = QUEUES.penalty([Skill("jobs", "uk", 1)], "jobs", "uk")
    assert expert is not None and beginner is not None
    assert expert < beginner <= REACH_MAX_PENALTY["topic"]


def test_the_language_comes_before_anyone_and_after_the_topic() -> None:
    other_topic = QUEUES.penalty([Skill("registration", "uk", 3)], "jobs", "uk")
    no_language = QUEUES.penalty([Skill("jobs", "pl", 3)], "jobs", "uk")
    assert other_topic is not None and no_language is not None
    assert REACH_MAX_PENALTY["topic"] < other_topic <= REACH_MAX_PENALTY["language"] < no_language


def test_the_general_queue_takes_anyone_who_speaks_the_language_at_once() -> None:
    penalty = QUEUES.penalty([Skill("registration", "uk", 2)], QUEUES.default, "uk")
    assert penalty is not None and penalty <= QUEUES.initial_max_penalty


def test_a_consultant_is_a_member_of_every_queue_a_step_reaches() -> None:
    memberships = QUEUES.memberships(UK_JOBS_EXPERT)
    assert set(memberships) == {q.name for q in QUEUES.asterisk_queues()}
    assert memberships["jobs-uk"] == 0


def test_without_the_anyone_step_a_consultant_is_no_member_where_they_cannot_help() -> None:
    from dataclasses import replace

    from hotline.queues import RoutingStep

    narrow = replace(QUEUES, routing=(RoutingStep(0, "topic"), RoutingStep(30, "language")))
    memberships = narrow.memberships([Skill("jobs", "pl", 2)])
    assert "jobs-uk" not in memberships and "jobs-pl" in memberships and "training-pl" in memberships


def test_asterisk_queue_names_give_back_their_topic_and_language() -> None:
    for queue in QUEUES.asterisk_queues():
        assert QUEUES.parse_asterisk_name(queue.name) == queue
        assert topic_of(queue.name) == queue.topic
    assert QUEUES.parse_asterisk_name("jobs-xx") is None
    assert QUEUES.parse_asterisk_name("nope-pl") is None
    assert topic_of("consultant") == "consultant"
