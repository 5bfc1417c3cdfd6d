import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.phone import InvalidPhoneNumber, mask, normalise_e164, pseudonym


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+254711000001", "+254711000001"),
        ("254711000001", "+254711000001"),  # some providers drop the "+"
        ("0711 000 001", "+254711000001"),
        ("0711-000-001", "+254711000001"),
        (" +254 711 000 001 ", "+254711000001"),
        ("+33612345678", "+33612345678"),
        ("+255754000001", "+255754000001"),
    ],
)
def test_normalise_e164(raw: str, e164: str) -> None:
    assert normalise_e164(raw) == e164


def test_normalise_uses_the_default_region_for_national_numbers() -> None:
    assert normalise_e164("0612345678", default_region="FR") == "+33612345678"


@pytest.mark.parametrize(
    "raw", ["", "   ", "hello", "12", "+254", "07110000O1", "1-800-FLOWERS", "9" * 40, "+999123"]
)
def test_garbage_is_not_a_phone_number(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as raised:
        normalise_e164(raw)

    assert raw.strip() == "" or raw not in str(raised.value)  # the error never repeats the input


def test_pseudonym_is_stable_per_key_and_hides_the_number() -> None:
    one = pseudonym("+254711000001", "key-one")

    assert one == pseudonym("+254711000001", "key-one")
    assert one != pseudonym("+254711000002", "key-one")
    assert one != pseudonym("+254711000001", "key-two")
    assert re.fullmatch(r"[0-9a-f]{32}", one)


def test_mask_keeps_the_network_prefix_and_last_two_digits() -> None:
    assert mask("+254711000089") == "+2547******89"
    assert mask("254711000089") == "2547******89"


@given(st.from_regex(r"\+?[0-9]{9,15}", fullmatch=True))
def test_mask_hides_all_but_six_digits_and_keeps_the_length(number: str) -> None:
    masked = mask(number)

    assert len(masked) == len(number)
    assert sum(c.isdigit() for c in masked) == 6
