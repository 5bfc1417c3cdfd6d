"""System texts: fallback to the default language and safe placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.flows.loader import FlowError
from gateway.flows.texts import SYSTEM_TEXTS, SystemTexts, fill, placeholders

GOOD = Path(__file__).parent / "fixtures" / "good"


def test_text_in_the_language_then_the_fallback_then_the_default():
    texts = SystemTexts({"more": {"en": "More", "fr": "Suite", "sw": "Zaidi"}}, "en")
    assert texts.text("more", "fr") == "Suite"
    assert texts.text("more", "de") == "More"
    texts = SystemTexts({"more": {"fr": "Suite", "sw": "Zaidi"}}, "en")
    assert texts.text("more", "de", fallback="sw") == "Zaidi"


def test_values_fill_placeholders():
    texts = SystemTexts({"invalid_number": {"en": "From {min} to {max}."}})
    assert texts.text("invalid_number", "en", min=1, max=50) == "From 1 to 50."


def test_fill_leaves_unknown_and_stray_braces_alone():
    assert fill("{a} {b} {0} {c!r} }{", {"a": "A"}) == "A {b} {0} {c!r} }{"
    assert placeholders("Ward {ward}, {age} {0}") == ["ward", "age"]


def test_load_reads_every_text(texts):
    assert set(texts.texts) == set(SYSTEM_TEXTS)
    assert texts.all_languages("yes") == ("Yes", "Oui")


def test_load_refuses_a_file_with_a_missing_text(tmp_path):
    text = (GOOD / "_system.toml").read_text().replace("[texts.apology]", "[texts.apologee]")
    (tmp_path / "_system.toml").write_text(text)
    with pytest.raises(FlowError) as error:
        SystemTexts.load(tmp_path / "_system.toml")
    assert [p.message for p in error.value.problems] == [
        'missing text "apology"',
        'unknown text "apologee"',
    ]
