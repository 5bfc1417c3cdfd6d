"""Layouts are remembered between hops (a hot path), but never shown for the wrong flow,
step, texts or language: an edited and reloaded flow shows its new words at once."""

from __future__ import annotations

from dataclasses import replace

from gateway.flows import render
from gateway.flows.model import Option
from gateway.flows.texts import SystemTexts


def labels(flow, texts, step, language: str) -> list[str]:
    return [choice.label for choice in render.menu(flow, texts, step, language)]


def test_each_language_gets_its_own_menu_and_screen(market, texts):
    stall = market.steps["stall"]
    english = render.step_screen(market, texts, stall, "en", {})
    french = render.step_screen(market, texts, stall, "fr", {})
    assert english != french
    assert render.step_screen(market, texts, stall, "en", {}) == english  # asked again
    assert labels(market, texts, stall, "fr") != labels(market, texts, stall, "en")


def test_an_edited_flow_shows_its_new_labels_while_the_old_one_keeps_its_own(market, texts):
    stall = market.steps["stall"]
    before = labels(market, texts, stall, "en")
    first = stall.options[0]
    edited_step = replace(stall, options=(
        Option(first.value, {**first.label, "en": "Fresh maize"}), *stall.options[1:]))
    edited = replace(market, steps={**market.steps, "stall": edited_step})

    assert labels(edited, texts, edited_step, "en")[0] == "Fresh maize"
    assert "Fresh maize" in render.step_screen(edited, texts, edited_step, "en", {}).text
    assert labels(market, texts, stall, "en") == before


def test_changed_system_texts_change_the_navigation_lines(market, texts):
    stall = market.steps["stall"]
    renamed = SystemTexts({**texts.texts, "yes": {**texts.texts["yes"], "en": "Sure"}})
    permit = market.steps["permit"]
    assert labels(market, renamed, permit, "en")[0] == "Sure"
    assert labels(market, texts, permit, "en")[0] != "Sure"
    assert render.pages(market, renamed, stall, "en", {}) == render.pages(
        market, texts, stall, "en", {})  # nothing on this step changed
