"""The input registry: each parser, table-driven, as its documented example says."""

from __future__ import annotations

import pytest

from gateway.flows.inputs import (
    INPUTS,
    Accepted,
    Choice,
    Rejected,
    Spec,
    fold,
    parse_choice,
    parse_number,
    parse_text,
)

MENU = Spec(
    (
        Choice("water_kiosks", "Water kiosks", ("Water kiosks", "Kiosques à eau")),
        Choice("roads", "Roads", ("Roads", "Routes")),
    )
)


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("1", Accepted("water_kiosks")),
        (" 2 ", Accepted("roads")),
        ("02", Accepted("roads")),
        ("3", Rejected("invalid_choice")),
        ("0", Rejected("invalid_choice")),
        ("98", Rejected("invalid_choice")),
        ("", Rejected("invalid_choice")),
        ("water kiosks", Accepted("water_kiosks")),
        ("KIOSQUES A EAU", Accepted("water_kiosks")),
        ("  kiosques   à eau ", Accepted("water_kiosks")),
        ("water_kiosks", Accepted("water_kiosks")),
        ("routes", Accepted("roads")),
        ("water", Rejected("invalid_choice")),
    ],
)
def test_choice(typed, parsed):
    assert parse_choice(typed, MENU) == parsed


@pytest.mark.parametrize(
    ("typed", "spec", "parsed"),
    [
        ("  pave  the road ", Spec(max_length=20), Accepted("pave the road")),
        ("x" * 20, Spec(max_length=20), Accepted("x" * 20)),
        ("x" * 21, Spec(max_length=20), Rejected("too_long", {"max_length": 20})),
        ("", Spec(), Rejected("required")),
        ("   ", Spec(), Rejected("required")),
        ("0", Spec(), Accepted("0")),
        ("0", Spec(optional=True), Accepted(None)),
        ("", Spec(optional=True), Accepted(None)),
        ("no comment", Spec(optional=True), Accepted("no comment")),
    ],
)
def test_text(typed, spec, parsed):
    assert parse_text(typed, spec) == parsed


RANGE = Spec(min=1, max=50)
BAD = Rejected("invalid_number", {"min": 1, "max": 50})


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("7", Accepted(7)),
        (" 50 ", Accepted(50)),
        ("1", Accepted(1)),
        ("+3", Accepted(3)),
        ("0", BAD),
        ("51", BAD),
        ("7.5", BAD),
        ("seven", BAD),
        ("", BAD),
        ("1 2", BAD),
        ("٣", BAD),  # only ASCII digits
        ("9" * 40, BAD),
    ],
)
def test_number(typed, parsed):
    assert parse_number(typed, RANGE) == parsed


def test_negative_numbers_when_the_range_allows_them():
    assert parse_number("-5", Spec(min=-10, max=10)) == Accepted(-5)


def test_fold_ignores_case_accents_and_spaces():
    assert fold("  Français ") == fold("FRANCAIS") == "francais"
    assert fold("Ndiyo") == "ndiyo"


def test_every_input_has_a_parser_its_errors_and_an_example():
    assert set(INPUTS) == {"choice", "yesno", "language", "text", "number"}
    for name, entry in INPUTS.items():
        assert callable(entry.parse), name
        assert entry.errors and entry.example, name
