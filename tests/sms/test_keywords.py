"""What a citizen texts and what the gateway reads: a keyword, a command, or nothing."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import load_settings
from gateway.sms import keywords
from gateway.sms.keywords import command, fold, match_keyword

KEYWORDS = {
    "POLL": "budget",
    "KURA": "budget",
    "VOTE": "budget",
    "SURVEY": "survey",
    "UTAFITI": "survey",
    "SONDAGE": "survey",
    "REPORT": "report",
    "RIPOTI": "report",
    "SIGNALER": "report",
}
COMMANDS = {
    "stop": [
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "ACHA",
        "SITISHA",
        "ARRET",
        "ARRÊT",
    ],
    "start": ["START", "UNSTOP", "ANZA", "DEMARRER", "DÉMARRER"],
    "help": ["HELP", "INFO", "MSAADA", "AIDE"],
}


@pytest.mark.parametrize(
    ("text", "flow"),
    [
        ("POLL", "budget"),
        ("poll", "budget"),
        ("  Poll  ", "budget"),
        ("POLL!", "budget"),
        ("poll.", "budget"),
        ("#poll", "budget"),
        ('"Kura"', "budget"),
        ("kura 2", "budget"),
        ("Vote\nplease", "budget"),
        ("Sondage", "survey"),
        ("SONDÂGE", "survey"),  # accents ignored
        ("utafiti?", "survey"),
        ("Signaler un problème", "report"),
        ("signalér", "report"),
        ("ＰＯＬＬ", "budget"),  # full-width letters from some phone keyboards
        # not a keyword
        ("POLLS", None),
        ("pol", None),
        ("I want to POLL", None),  # the keyword must be the first word
        ("poll-2", None),
        ("", None),
        ("   ", None),
        ("!!!", None),
        ("1", None),
    ],
)
def test_keyword_is_the_first_word(text: str, flow: str | None) -> None:
    assert match_keyword(text, KEYWORDS) == flow


def test_keywords_in_settings_may_be_written_in_any_case_or_accent() -> None:
    assert match_keyword("arret", {"Arrêt": "stop_flow"}) == "stop_flow"
    assert match_keyword("ARRÊT", {"arret": "stop_flow"}) == "stop_flow"
    assert match_keyword("poll", {}) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", "stop"),
        ("stop", "stop"),
        (" stop ", "stop"),
        ("STOP.", "stop"),
        ("Stop!!", "stop"),
        ("#stop", "stop"),
        ("Sitisha", "stop"),
        ("acha", "stop"),
        ("Arrêt", "stop"),
        ("ARRET", "stop"),
        ("arrêt !", "stop"),
        ("Unsubscribe", "stop"),
        ("START", "start"),
        ("anza", "start"),
        ("Démarrer", "start"),
        ("demarrer", "start"),
        ("help?", "help"),
        ("Msaada", "help"),
        ("aide", "help"),
        ("INFO", "help"),
        # only the whole message is a command
        ("stop please", None),
        ("please stop", None),
        ("the flooding must stop", None),
        ("stop all", None),  # STOPALL is one word
        ("help me", None),
        ("stopp", None),
        ("POLL", None),
        ("", None),
        (" . ", None),
    ],
)
def test_command_is_the_whole_message(text: str, expected: str | None) -> None:
    assert command(text, COMMANDS) == expected


def test_stop_wins_if_a_word_is_listed_twice() -> None:
    assert command("end", {"help": ["END"], "stop": ["END"]}) == "stop"


def test_unknown_command_names_are_ignored() -> None:
    assert command("pause", {"pause": ["PAUSE"]}) is None
    assert command("stop", {"stop": "STOP"}) == "stop"  # one word instead of a list


def test_the_shipped_settings_read_keywords_and_commands() -> None:
    sms = load_settings({}, Path(__file__).parents[2] / "settings.toml", secret=False).sms
    assert match_keyword("kura", sms.keywords) == sms.keywords["KURA"]
    assert match_keyword("Sondage!", sms.keywords) == sms.keywords["SONDAGE"]
    assert command("Arrêt.", sms.commands) == "stop"
    assert command("anza", sms.commands) == "start"
    assert command("MSAADA", sms.commands) == "help"


def test_fold_is_the_flows_fold() -> None:
    assert fold("  Kiosques  À eau ") == "kiosques a eau"


def test_docstring_examples() -> None:
    assert doctest.testmod(keywords).failed == 0


@given(st.sampled_from(sorted(KEYWORDS)), st.sampled_from(["", "!", ".", "?", " 1", " yes"]))
def test_every_keyword_matches_in_any_case(keyword: str, tail: str) -> None:
    for text in (keyword, keyword.lower(), keyword.title(), "#" + keyword):
        assert match_keyword(text + tail, KEYWORDS) == KEYWORDS[keyword]


@given(st.text())
def test_anything_a_citizen_types_is_read_without_error(text: str) -> None:
    assert match_keyword(text, KEYWORDS) in {None, *KEYWORDS.values()}
    assert command(text, COMMANDS) in {None, "stop", "start", "help"}
