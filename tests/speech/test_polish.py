"""Polish phrases: inflected forms generated with Morfeusz 2 for the grammar, recognised text lemmatised by
the intent matcher. All on Polish text (no Polish speech model can be downloaded on these machines)."""

from __future__ import annotations

import pytest

from ivr.menu import MenuNode, load_menu
from ivr.speech.polish import best_intent, inflected_forms, lemmas
from tests.data import CATALOG, MENU_FILE, QUEUE_NAMES

MENU = load_menu(MENU_FILE, CATALOG, QUEUE_NAMES)


def main_question() -> MenuNode:
    node = MENU.nodes["main"]
    assert isinstance(node, MenuNode) and node.speech is not None
    return node


def test_a_noun_gets_every_case_in_both_numbers() -> None:
    forms = inflected_forms("zasiłek")
    assert forms[0] == "zasiłek"
    assert {"zasiłku", "zasiłkowi", "zasiłkiem", "zasiłki", "zasiłków", "zasiłkom", "zasiłkami"} <= set(forms)
    assert len(forms) == len(set(forms))


def test_what_a_preposition_governs_stays_as_written() -> None:
    forms = inflected_forms("Zasiłek  dla bezrobotnych")
    assert "zasiłkiem dla bezrobotnych" in forms
    assert all(form.endswith(" dla bezrobotnych") for form in forms)
    assert inflected_forms("za granicą") == ("za granicą",)


def test_a_second_noun_and_a_word_in_another_case_stay_as_written() -> None:
    assert "godzinach otwarcia" in inflected_forms("godziny otwarcia")
    assert all(form.endswith(" otwarcia") for form in inflected_forms("godziny otwarcia"))
    assert "ofertę pracy" in inflected_forms("oferty pracy")


def test_an_adjective_agrees_with_its_noun() -> None:
    forms = inflected_forms("jakie dokumenty")
    assert {"jakich dokumentów", "jakimi dokumentami", "jaki dokument"} <= set(forms)
    assert "jakiej dokumentów" not in forms  # a feminine adjective with a masculine noun


@pytest.mark.parametrize("phrase", ["kto dostanie zasiłek", "szukam pracy", "eures", "ohp", "해외 취업"])
def test_a_clause_or_an_unknown_word_is_left_as_it_is(phrase: str) -> None:
    assert inflected_forms(phrase) == (phrase,)


def test_the_main_menu_grammar_holds_the_forms_generated_from_the_data() -> None:
    speech = main_question().speech
    assert speech is not None
    grammar = set(speech.phrases("pl"))
    # The data names "zasiłek", "konsultant", "pracodawca", "staż" once; their forms come from Morfeusz.
    assert {"zasiłek", "zasiłku", "zasiłkiem", "zasiłków", "konsultanta", "konsultantem"} <= grammar
    assert {"pracodawcy", "pracodawców", "staże", "stażu", "rozmowę z konsultantem"} <= grammar
    assert set(speech.phrases("uk")) == set(speech.intents["uk"])  # other languages: the data only
    assert "консультантом" not in speech.phrases("uk")


@pytest.mark.parametrize(
    ("said", "key"),
    [
        ("zasiłek", "3"),
        ("Zasiłkiem", "3"),
        ("zasiłków dla bezrobotnych", "3"),
        ("statusem bezrobotnego", "3"),
        ("ofertami pracy", "1"),
        ("szkoleniach", "2"),
        ("stażu", "2"),
        ("pracodawcom", "5"),
        ("młodzieży", "6"),
        ("rozmowę z konsultantem", "0"),
        ("konsultantowi", "0"),
        ("ludzi", "0"),  # człowiek
        ("pracą za granicą", "4"),
        ("powrotu do polski", "4"),
    ],
)
def test_any_form_of_a_phrase_means_its_intent(said: str, key: str) -> None:
    speech = main_question().speech
    assert speech is not None
    assert speech.intent_for("pl", said) == key


def test_a_form_the_grammar_left_out_is_still_understood_by_its_lemma() -> None:
    speech = main_question().speech
    assert speech is not None
    assert "człowiecze" not in speech.phrases("pl")  # an archaic vocative: not in the grammar
    assert speech.intent_for("pl", "człowiecze") == "0"
    assert speech.intent_for("pl", "konsultancie") == "0"


def test_words_that_are_no_phrase_mean_nothing() -> None:
    speech = main_question().speech
    assert speech is not None
    assert speech.intent_for("pl", "dzień dobry") is None
    assert speech.intent_for("pl", "zasiłek zasiłek") is None  # not a phrase, though made of one
    assert speech.intent_for("pl", "") is None


def test_a_form_of_phrases_of_different_intents_means_nothing() -> None:
    phrases = [(lemmas("zasiłek"), "3"), (lemmas("zasiłki"), "7")]
    assert best_intent(phrases, "zasiłkiem") is None
    assert best_intent(phrases[:1], "zasiłkiem") == "3"


def test_lemmas_keep_the_word_itself() -> None:
    assert lemmas("Zasiłków eures") == (frozenset({"zasiłków", "zasiłek"}), frozenset({"eures"}))
