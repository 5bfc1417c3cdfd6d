"""Screen layout details the transcripts do not show directly."""

from __future__ import annotations

from gateway.flows import render
from gateway.flows.texts import SystemTexts


def test_quotes_show_labels_in_the_citizens_language(market, texts):
    answers = {"stall": "maize", "years": 4, "permit": "no", "goods": "Charbon"}
    assert render.quotes(market, texts, answers, "fr") == {
        "stall": "Maïs",
        "goods": "Charbon",
        "years": "4",
        "permit": "Non",
        "comment": "-",
    }


def test_the_longest_error_of_the_step_is_reserved(market, texts):
    goods, years = market.steps["goods"], market.steps["years"]
    assert render.error_texts(market, texts, goods, "en") == [
        "Please type an answer.",
        "Please use at most 20 characters.",
    ]
    assert (
        render.reserve(market, texts, goods, "en") == len("Please use at most 20 characters.") + 1
    )
    assert render.error_texts(market, texts, market.steps["comment"], "en") == [
        "Please use at most 30 characters."  # optional: no "required" error
    ]
    assert render.reserve(market, texts, years, "fr") == len("Entrez un nombre de 0 à 60.") + 1
    assert render.reserve(market, texts, market.steps["thanks"], "en") == 0


def test_language_picker_names_each_language_in_itself(market, texts):
    picker = market.steps["language"]
    assert [c.label for c in render.menu(market, texts, picker, "fr")] == ["English", "Français"]


def test_language_picker_asks_in_every_language_of_the_flow(market, texts):
    """The picker is shown before anyone knows what the citizen reads."""
    picker = market.steps["language"]
    for language in ("en", "fr", "sw"):
        assert render.header(market, texts, picker, language, {}) == "Language / Langue:"
    one_word = SystemTexts({**texts.texts, "choose_language": {"en": "Langue", "fr": "Langue"}})
    assert render.header(market, one_word, picker, "en", {}) == "Langue:"  # said once


def test_clip_is_a_last_resort_that_keeps_the_limit():
    assert render.clip("x" * 182) == "x" * 182
    assert render.clip("x" * 200) == "x" * 181 + "…"
