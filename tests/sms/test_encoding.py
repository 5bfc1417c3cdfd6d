"""What an officer's preview says about an outbound SMS: GSM-7 or UCS-2, and how many segments."""

from __future__ import annotations

import doctest
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.sms import encoding
from gateway.sms.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    LOOK_ALIKES,
    Encoding,
    analyse,
    prepare,
    transliterate,
)

# GSM 03.38 default alphabet as Unicode code points, in code order 0x00-0x7F; 0x1B is the escape.
# fmt: off
SPEC_BASIC = [
    0x40, 0xA3, 0x24, 0xA5, 0xE8, 0xE9, 0xF9, 0xEC, 0xF2, 0xC7, 0x0A, 0xD8, 0xF8, 0x0D, 0xC5, 0xE5,
    0x394, 0x5F, 0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E, None, 0xC6, 0xE6,
    0xDF, 0xC9,
    *range(0x20, 0x24), 0xA4, *range(0x25, 0x40),
    0xA1, *range(0x41, 0x5B), 0xC4, 0xD6, 0xD1, 0xDC, 0xA7,
    0xBF, *range(0x61, 0x7B), 0xE4, 0xF6, 0xF1, 0xFC, 0xE0,
]
# fmt: on
# The extension table (ESC + code): form feed ^ { } \ [ ~ ] | €.
SPEC_EXTENSION = [0x0C, 0x5E, 0x7B, 0x7D, 0x5C, 0x5B, 0x7E, 0x5D, 0x7C, 0x20AC]

AMHARIC = "ሰላም"  # "hello": UCS-2, one UTF-16 unit per letter
EMOJI = "🙏"  # outside the BMP: two UTF-16 units


def test_alphabet_is_the_gsm_03_38_table() -> None:
    assert len(SPEC_BASIC) == 128
    assert GSM7_BASIC == {chr(code) for code in SPEC_BASIC if code is not None}
    assert GSM7_EXTENSION == {chr(code) for code in SPEC_EXTENSION}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # GSM-7: 160 in one SMS, then parts of 153
        ("a" * 160, Encoding("GSM-7", 1, 160)),
        ("a" * 161, Encoding("GSM-7", 2, 161)),
        ("a" * 306, Encoding("GSM-7", 2, 306)),  # 153 * 2
        ("a" * 307, Encoding("GSM-7", 3, 307)),
        ("a" * 459, Encoding("GSM-7", 3, 459)),
        # extension characters count two septets
        ("€", Encoding("GSM-7", 1, 2)),
        ("Bei: 5€ [takriban]", Encoding("GSM-7", 1, 21)),
        ("a" * 158 + "€", Encoding("GSM-7", 1, 160)),
        ("a" * 159 + "€", Encoding("GSM-7", 2, 161)),
        ("a" * 79 + "{}" + "a" * 79, Encoding("GSM-7", 2, 162)),
        ("page\fbreak", Encoding("GSM-7", 1, 11)),
        # an escape pair never straddles two parts: the € moves whole to part 2, one "a" spills
        ("a" * 152 + "€" + "a" * 152, Encoding("GSM-7", 3, 306)),
        ("a" * 151 + "€" + "a" * 153, Encoding("GSM-7", 2, 306)),
        # accents in the GSM alphabet stay GSM-7 (French, Spanish, German)
        ("Votre réponse a été enregistrée. Merci à vous !", Encoding("GSM-7", 1, 47)),
        ("Ça marche, señor Müller", Encoding("GSM-7", 1, 23)),
        ("line one\nline two\r\n", Encoding("GSM-7", 1, 19)),
        # UCS-2: 70 in one SMS, then parts of 67
        (AMHARIC * 23 + "ሰ", Encoding("UCS-2", 1, 70)),
        (AMHARIC * 23 + "ሰላ", Encoding("UCS-2", 2, 71)),
        ("ሰ" * 134, Encoding("UCS-2", 2, 134)),
        ("ሰ" * 135, Encoding("UCS-2", 3, 135)),
        # one character outside GSM-7 makes the whole text UCS-2
        ("It’s your turn to vote", Encoding("UCS-2", 1, 22)),
        ("a" * 70 + "’", Encoding("UCS-2", 2, 71)),
        ("français", Encoding("UCS-2", 1, 8)),  # ç is not GSM-7 (Ç is)
        ("Êtes-vous d'accord ?", Encoding("UCS-2", 1, 20)),
        ("use `code`", Encoding("UCS-2", 1, 10)),  # the backtick is not GSM-7
        # an emoji is two UTF-16 units, and is never split across parts
        (EMOJI, Encoding("UCS-2", 1, 2)),
        ("Asante " + EMOJI, Encoding("UCS-2", 1, 9)),
        ("a" * 68 + EMOJI, Encoding("UCS-2", 1, 70)),
        ("a" * 69 + EMOJI, Encoding("UCS-2", 2, 71)),
        ("a" * 66 + EMOJI + "a" * 66, Encoding("UCS-2", 3, 134)),
        ("€" + EMOJI, Encoding("UCS-2", 1, 3)),  # € is one unit in UCS-2
        # nothing to send
        ("", Encoding("GSM-7", 0, 0)),
    ],
)
def test_preview_counts(text: str, expected: Encoding) -> None:
    assert analyse(text) == expected


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("It’s ‘yes’ or “no”", "It's 'yes' or \"no\""),
        ("« Oui » ou „nein“", '" Oui " ou "nein"'),
        ("Vote 1–3 — now", "Vote 1-3 - now"),
        ("minus −5, non‑breaking", "minus -5, non-breaking"),
        ("Wait…", "Wait..."),
        ("1\u00a0000\u202fKES\u2009each", "1 000 KES each"),
        ("• water\n• roads", "- water\n- roads"),
        ("Êtes-vous d’accord ? Ça coûte", "Etes-vous d'accord ? Ça coute"),
        ("français, naïve, Noël, hôpital, août", "francais, naive, Noel, hopital, aout"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("e\u0301te\u0301", "été"),  # decomposed accents are recomposed into GSM-7 é
        ("Kura yako imepokelewa", "Kura yako imepokelewa"),
    ],
)
def test_transliterate_keeps_texts_gsm7(text: str, sent: str) -> None:
    assert transliterate(text) == sent
    assert analyse(sent).encoding == "GSM-7"


@pytest.mark.parametrize(
    "text",
    [
        f"“{AMHARIC}” – welcome",  # Amharic: UCS-2 anyway, the author's quotes stay
        f"It’s done {EMOJI}",  # an emoji: UCS-2 anyway
        "Привет — мир",
    ],
)
def test_transliterate_leaves_real_ucs2_untouched(text: str) -> None:
    assert transliterate(text) == text
    assert prepare(text, transliterate=True) == text


def test_prepare_follows_the_setting() -> None:
    assert prepare("It’s 1–2", transliterate=True) == "It's 1-2"
    assert prepare("It’s 1–2", transliterate=False) == "It’s 1–2"
    # what the preview shows for each choice
    assert analyse(prepare("a" * 140 + "’", transliterate=True)) == Encoding("GSM-7", 1, 141)
    assert analyse(prepare("a" * 140 + "’", transliterate=False)) == Encoding("UCS-2", 3, 141)


def test_docstring_examples() -> None:
    assert doctest.testmod(encoding).failed == 0


# --- properties ---------------------------------------------------------------------------------

GSM_BASIC_TEXT = st.text(st.sampled_from(sorted(GSM7_BASIC)))
GSM_TEXT = st.text(st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION)))
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)))
MAPPABLE = sorted(GSM7_BASIC | GSM7_EXTENSION | set(LOOK_ALIKES) | set("âêîôûçïëÂÊÎÔÛËÏáíóúãõ"))


def reference_units(text: str) -> int:
    """Septets from the spec table for GSM-7, else UTF-16 code units."""
    basic = {chr(code) for code in SPEC_BASIC if code is not None}
    extension = {chr(code) for code in SPEC_EXTENSION}
    if all(char in basic or char in extension for char in text):
        return sum(2 if char in extension else 1 for char in text)
    return len(text.encode("utf-16-le")) // 2


@given(ANY_TEXT | GSM_TEXT)
def test_units_match_reference_count(text: str) -> None:
    assert analyse(text).units == reference_units(text)


@given(ANY_TEXT | GSM_TEXT)
def test_segments_are_enough_and_not_wasteful(text: str) -> None:
    result = analyse(text)
    single, part = encoding.SINGLE[result.encoding], encoding.PART[result.encoding]
    if not text:
        assert result.segments == 0
    elif result.units <= single:
        assert result.segments == 1
    else:  # at most one unit per part is lost to a character that does not fit whole
        fewest, most = math.ceil(result.units / part), math.ceil(result.units / (part - 1))
        assert fewest <= result.segments <= most


@given(ANY_TEXT.filter(bool) | GSM_TEXT.filter(bool))
def test_non_empty_text_is_at_least_one_segment(text: str) -> None:
    assert analyse(text).segments >= 1


@given(GSM_BASIC_TEXT.filter(lambda t: 0 < len(t) <= 160))
def test_basic_gsm7_up_to_160_characters_is_one_segment(text: str) -> None:
    assert analyse(text) == Encoding("GSM-7", 1, len(text))


@given(GSM_TEXT)
def test_prepare_never_changes_gsm7_text(text: str) -> None:
    assert prepare(text, transliterate=True) == text


@given(st.text(st.sampled_from(MAPPABLE)))
def test_transliterated_text_is_gsm7_when_every_character_has_a_stand_in(text: str) -> None:
    assert analyse(transliterate(text)).encoding == "GSM-7"


@given(st.text(st.sampled_from(MAPPABLE)), st.sampled_from([*AMHARIC, EMOJI, "ж"]))
def test_text_with_an_unmappable_character_is_untouched(text: str, foreign: str) -> None:
    mixed = text + foreign
    assert transliterate(mixed) == mixed
