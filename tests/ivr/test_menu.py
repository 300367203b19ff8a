"""The menu file: it loads, its routes can be listed, and each kind of mistake is refused naming the node."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hotline.datafiles import load_yaml
from ivr.menu import (
    LanguageNode,
    MenuError,
    MenuNode,
    QueueNode,
    enumerate_paths,
    load_menu,
    menu_from_data,
)
from tests.data import CATALOG, QUEUE_NAMES
from tests.data import MENU_FILE as DEFAULT_MENU_FILE

DATA = load_yaml(DEFAULT_MENU_FILE)


def test_the_hotline_menu_loads() -> None:
    menu = load_menu(DEFAULT_MENU_FILE, CATALOG, QUEUE_NAMES)

    assert menu.queues == QUEUE_NAMES
    root = menu.node(menu.root)
    assert isinstance(root, LanguageNode) and root.default == "pl"
    assert dict(root.languages) == {"1": "pl", "2": "uk", "3": "en"}
    main = menu.node("main")
    assert isinstance(main, MenuNode)
    assert dict(main.options) == {
        "1": "jobs", "2": "training", "3": "registration", "4": "abroad", "5": "employers", "6": "youth",
        "0": "to_consultant",
    }  # fmt: skip
    youth_queue = menu.node("to_ecam")
    assert isinstance(youth_queue, QueueNode) and youth_queue.queue == "ecam"
    assert main.max_tries == 3 and main.fallback == "to_consultant"


def test_every_topic_menu_falls_back_to_its_own_queue() -> None:
    menu = load_menu(DEFAULT_MENU_FILE, CATALOG, QUEUE_NAMES)
    expected = {
        "jobs": "jobs", "training": "training", "registration": "registration", "abroad": "abroad",
        "employers": "employers", "youth": "ecam", "general": "consultant",
    }  # fmt: skip
    for node in menu.nodes.values():
        if isinstance(node, MenuNode) and node.topic is not None:
            fallback = menu.node(node.fallback)
            assert isinstance(fallback, QueueNode)
            assert fallback.queue == expected[node.topic], node.id
            assert menu.node(node.options["0"]) == fallback, node.id


def test_the_loaded_menu_is_immutable() -> None:
    menu = load_menu(DEFAULT_MENU_FILE, CATALOG, QUEUE_NAMES)
    main = menu.node("main")
    assert isinstance(main, MenuNode)
    with pytest.raises(TypeError):
        main.options["7"] = "jobs"  # type: ignore[index]
    with pytest.raises(AttributeError):
        main.max_tries = 5  # type: ignore[misc]


def test_paths_cover_each_route_once() -> None:
    menu = load_menu(DEFAULT_MENU_FILE, CATALOG, QUEUE_NAMES)
    paths = enumerate_paths(menu)

    keys = [(p.keys) for p in paths]
    assert len(keys) == len(set(keys))
    # Per language: 0 from the main menu, and for each information node 0 (its queue) and 9 (goodbye);
    # the registration and abroad submenus add their own 0.
    assert len(paths) == 3 * (1 + 2 * 8 + 2)
    for path in paths:
        assert path.nodes[0] == menu.root
        assert all(len(key) == 1 and key in "0123456789" for key in path.keys)
        assert len(set(path.nodes)) == len(path.nodes)
        terminal = menu.node(path.terminal)
        if path.queue is None:
            assert path.terminal == "goodbye"
        else:
            assert isinstance(terminal, QueueNode) and terminal.queue == path.queue
    by_keys = {p.keys: p for p in paths}
    assert by_keys[("1", "0")].queue == "consultant" and by_keys[("1", "0")].topic == "general"
    assert by_keys[("2", "6", "0")].queue == "ecam" and by_keys[("2", "6", "0")].language == "uk"
    assert by_keys[("3", "4", "2", "0")].nodes[-3:] == ("abroad", "return_home_info", "to_abroad")


# --- Refusals -------------------------------------------------------------------------------------------


def refused(change: Callable[[dict[str, Any]], object], queues: frozenset[str] = QUEUE_NAMES) -> MenuError:
    data = copy.deepcopy(DATA)
    change(data)
    with pytest.raises(MenuError) as caught:
        menu_from_data(data, CATALOG, queues)
    return caught.value


def test_an_unknown_target_is_refused() -> None:
    error = refused(lambda d: d["nodes"]["main"]["options"].update({"1": "jobz"}))
    assert error.node == "main"
    assert "option '1' goes to unknown node 'jobz'" in str(error)
    assert str(error).startswith("node 'main': ")


def test_an_unknown_fallback_and_next_are_refused() -> None:
    error = refused(lambda d: d["nodes"]["jobs"].update(fallback="to_nowhere"))
    assert error.node == "jobs" and "unknown node 'to_nowhere'" in str(error)
    error = refused(lambda d: d["nodes"]["welcome"].update(next="mian"))
    assert error.node == "welcome" and "'mian'" in str(error)


def test_a_fallback_must_be_a_queue() -> None:
    error = refused(lambda d: d["nodes"]["jobs"].update(fallback="main"))
    assert error.node == "jobs" and "must be a queue node" in str(error)


def test_an_unreachable_node_is_refused() -> None:
    error = refused(lambda d: d["nodes"].update(orphan={"kind": "end", "prompts": ["goodbye"]}))
    assert error.node == "orphan"
    assert "not reachable from the root 'welcome'" in str(error)


def test_a_node_left_unreachable_by_an_edit_is_named() -> None:
    def drop_youth(data: dict[str, Any]) -> None:
        data["nodes"]["main"]["options"].pop("6")
        data["nodes"]["main"]["speech"]["intents"].pop("6")  # its spoken phrases go with the key

    error = refused(drop_youth)
    assert error.node == "youth"
    assert "to_ecam" in str(error)  # the ECAM queue is cut off too


def test_a_missing_prompt_text_is_refused() -> None:
    error = refused(lambda d: d["nodes"]["jobs"]["prompts"].append("info_jobz"))
    assert error.node == "jobs"
    assert "prompt 'info_jobz'" in str(error) and "not in the prompt catalog" in str(error)


def test_missing_prompts_outside_nodes_are_refused_too() -> None:
    assert "callback.consent" in str(refused(lambda d: d["callback"].update(consent="agree")))
    assert "topics.jobs.name" in str(refused(lambda d: d["topics"]["jobs"].update(name="jobs_name")))
    assert "messages.no_input" in str(refused(lambda d: d["messages"].update(no_input="silence")))


def test_an_unknown_queue_is_refused() -> None:
    error = refused(lambda d: d["nodes"]["to_jobs"].update(queue="jobz"))
    assert error.node == "to_jobs" and "unknown queue 'jobz'" in str(error)


def test_queues_are_checked_against_those_the_dialplan_knows() -> None:
    error = refused(lambda d: None, queues=QUEUE_NAMES - {"ecam"})
    assert error.node == "to_ecam" and "unknown queue 'ecam'" in str(error)


def test_a_language_the_prompts_lack_is_refused() -> None:
    error = refused(lambda d: d["nodes"]["welcome"]["languages"].update({"4": "de"}))
    assert error.node == "welcome" and "'de'" in str(error)


def test_an_unknown_topic_is_refused() -> None:
    error = refused(lambda d: d["nodes"]["jobs"].update(topic="work"))
    assert error.node == "jobs" and "unknown topic 'work'" in str(error)


@pytest.mark.parametrize(
    ("change", "node", "message"),
    [
        (lambda d: d["nodes"].update(jobs=["info_jobs"]), "jobs", "a node must be a mapping"),
        (lambda d: d["nodes"]["jobs"].update(kind="submenu"), "jobs", "kind must be one of"),
        (lambda d: d["nodes"]["jobs"].update(optoins={}), "jobs", "unknown field(s) ['optoins']"),
        (lambda d: d["nodes"]["jobs"].update(options=["repeat"]), "jobs", "options must be a mapping"),
        (lambda d: d["nodes"]["jobs"].update(options={}), "jobs", "at least one key"),
        (lambda d: d["nodes"]["jobs"]["options"].update({"*": "jobs"}), "jobs", "reserved"),
        (lambda d: d["nodes"]["jobs"]["options"].update({"#": "main"}), "jobs", "reserved"),
        (lambda d: d["nodes"]["jobs"]["options"].update({"10": "main"}), "jobs", "not a key 0-9"),
        (lambda d: d["nodes"]["jobs"]["options"].update({7: "main", "7": "jobs"}), "jobs", "appears twice"),
        (lambda d: d["nodes"]["jobs"].update(max_tries=0), "jobs", "max_tries must be a whole number"),
        (lambda d: d["nodes"]["jobs"].update(timeout_ms="5s"), "jobs", "timeout_ms must be a whole number"),
        (
            lambda d: d["nodes"]["jobs"].update(prompts="info_jobs"),
            "jobs",
            "prompts must be a non-empty list",
        ),
        (lambda d: d["nodes"]["jobs"].update(prompts=[]), "jobs", "prompts must be a non-empty list"),
        (lambda d: d["nodes"]["to_jobs"].pop("queue"), "to_jobs", "needs 'queue'"),
        (lambda d: d["nodes"]["welcome"].update(default="de"), "welcome", "default language 'de'"),
        (lambda d: d["nodes"]["welcome"]["languages"].update({"4": "pl"}), "welcome", "offered on two keys"),
        (lambda d: d["nodes"]["welcome"].update(repeat_intro="yes"), "welcome", "true or false"),
        (lambda d: d["nodes"]["returning"].update(key="*"), "returning", "reserved"),
        (lambda d: d["nodes"].update(repeat={"kind": "end"}), "repeat", "reserved"),
    ],
)
def test_a_malformed_node_is_refused_naming_it(
    change: Callable[[dict[str, Any]], object], node: str, message: str
) -> None:
    error = refused(change)
    assert error.node == node
    assert message in str(error)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=2), "unsupported menu version 2"),
        (lambda d: d.pop("root"), "no 'root'"),
        (lambda d: d.update(root="start"), "the root 'start' is not a node"),
        (lambda d: d.update(nodes=[]), "nodes must be a mapping"),
        (lambda d: d.update(menu={}), "unknown top-level field(s) ['menu']"),
        (lambda d: d["defaults"].update(max_tries=-1), "defaults.max_tries"),
        (lambda d: d.update(default_topic="weather"), "default_topic 'weather'"),
        (lambda d: d["topics"]["jobs"].update(node="nowhere"), "topic 'jobs' continues at unknown node"),
        (lambda d: d["callback"].pop("consent"), "callback: the prompt 'consent' is not given"),
    ],
)
def test_a_malformed_file_is_refused(change: Callable[[dict[str, Any]], object], message: str) -> None:
    assert message in str(refused(change))


def test_not_a_mapping_at_all() -> None:
    with pytest.raises(MenuError, match="the menu file must be a mapping"):
        menu_from_data(["welcome"], CATALOG, QUEUE_NAMES)


# --- Refusals that only the file shows: YAML duplicates and syntax -------------------------------------


def write_menu(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "menu.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_key_listed_twice_in_one_menu_is_refused_naming_the_node(tmp_path: Path) -> None:
    text = DEFAULT_MENU_FILE.read_text(encoding="utf-8")
    text = text.replace(
        'options: {"1": repeat, "0": to_jobs, "9": goodbye}', 'options: {"1": repeat, "0": to_jobs, 1: main}'
    )
    path = write_menu(tmp_path, text)

    with pytest.raises(MenuError) as caught:
        load_menu(path, CATALOG, QUEUE_NAMES)
    assert caught.value.node == "jobs"
    assert "key '1' appears twice in options" in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_node_defined_twice_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_MENU_FILE.read_text(encoding="utf-8") + "\n  goodbye: {kind: end, prompts: [goodbye]}\n"
    with pytest.raises(MenuError) as caught:
        load_menu(write_menu(tmp_path, text), CATALOG, QUEUE_NAMES)
    assert caught.value.node == "goodbye" and "defined twice" in str(caught.value)


def test_broken_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MenuError, match="not valid YAML"):
        load_menu(write_menu(tmp_path, "nodes: {main: [unclosed\n"), CATALOG, QUEUE_NAMES)


def test_errors_from_the_file_name_the_file_and_the_node(tmp_path: Path) -> None:
    text = DEFAULT_MENU_FILE.read_text(encoding="utf-8").replace("queue: ecam", "queue: ohp")
    with pytest.raises(MenuError) as caught:
        load_menu(write_menu(tmp_path, text), CATALOG, QUEUE_NAMES)
    assert str(caught.value).startswith(f"{tmp_path / 'menu.yaml'}: node 'to_ecam': unknown queue 'ohp'")


# --- Spoken answers (a menu node's `speech`) ----------------------------------------------------------------


HOTLINE_MENU = load_menu(DEFAULT_MENU_FILE, CATALOG, QUEUE_NAMES)


def test_the_main_menu_understands_phrases_in_every_language() -> None:
    main = HOTLINE_MENU.nodes["main"]
    assert isinstance(main, MenuNode) and main.speech is not None
    speech = main.speech
    for language in ("pl", "uk", "en"):
        assert speech.phrases(language)
    assert speech.intent_for("pl", "Praca  za granicą") == "4"  # case and spaces do not matter
    assert speech.intent_for("pl", "zasiłek") == "3"
    assert speech.intent_for("pl", "konsultant") == "0"
    assert speech.intent_for("pl", "pogoda") is None
    assert speech.phrases("ko") == ()


def test_the_virtual_advisor_answers_questions_asked_at_the_main_menu() -> None:
    main = HOTLINE_MENU.nodes["main"]
    assert isinstance(main, MenuNode) and main.speech is not None
    advisors = {"advisor_documents", "advisor_benefit", "advisor_hours", "advisor_return"}
    assert main.speech.node_intents() == advisors
    assert main.speech.intent_for("pl", "jakie dokumenty do rejestracji") == "advisor_documents"
    assert main.speech.intent_for("en", "opening hours") == "advisor_hours"
    for advisor in advisors:
        node = HOTLINE_MENU.nodes[advisor]
        assert isinstance(node, MenuNode) and node.speech is not None
        assert node.prompts[:2] == (advisor, "hint_consultant_spoken")  # "press 0 or say 'konsultant'"
        assert node.speech.question is None and node.speech.retry is None  # the answer asks
        for language in ("pl", "uk", "en"):
            target = node.options[
                node.speech.intent_for(
                    language, {"pl": "konsultant", "uk": "консультант", "en": "consultant"}[language]
                )
                or ""
            ]
            assert isinstance(HOTLINE_MENU.nodes[target], QueueNode)


def test_every_intent_leads_where_its_key_leads() -> None:
    for node in HOTLINE_MENU.nodes.values():
        if isinstance(node, MenuNode) and node.speech is not None:
            for phrases in node.speech.intents.values():
                keys = {intent for intent in phrases.values() if intent.isdigit()}
                assert keys <= set(node.options)
                assert set(phrases.values()) - keys <= set(HOTLINE_MENU.nodes)


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda s: s["intents"].update({"8": {"pl": ["osiem"]}}), "key '8' is not one of the options"),
        (lambda s: s["intents"]["1"].update(pl=["zasiłek"]), "'zasiłek' already means '1'"),
        (lambda s: s["intents"].update(advisor_nowhere={"pl": ["gdzie"]}), "goes to unknown node"),
        (lambda s: s["intents"]["1"].update(de=["arbeit"]), "'de' is not one of the prompt languages"),
        (lambda s: s["intents"]["1"].update(pl=[]), "non-empty list of phrases"),
        (lambda s: s.update(min_confidence=2), "min_confidence must be a number from 0 to 1"),
        (lambda s: s.update(question="no_such_prompt"), "not in the prompt catalog"),
        (lambda s: s.pop("intents"), "speech needs 'intents'"),
        (lambda s: s.update(when="always"), "unknown field"),
    ],
)
def test_a_broken_spoken_question_is_refused(edit: Any, error: str) -> None:
    refusal = refused(lambda d: edit(d["nodes"]["main"]["speech"]))
    assert refusal.node == "main"
    assert error in str(refusal)
