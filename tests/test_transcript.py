"""The golden transcript file format (tests/transcripts/README.md)."""

from __future__ import annotations

import pytest
from transcript import Hop, TranscriptError, parse_transcripts

TWO = """\
# a comment
=== first
> *384*1#
< CON Language / Lugha / Langue:
< 1. English
> 1
<
< END done

=== second
> *384*3#
< END Sorry, this service is not available.
"""


def test_screens_join_their_lines_and_inputs_keep_their_text() -> None:
    first, second = parse_transcripts(TWO)
    assert first.name == "first"
    assert first.dial == "*384*1#"
    assert first.hops == [
        Hop("*384*1#", "CON Language / Lugha / Langue:\n1. English"),
        Hop("1", "\nEND done"),
    ]
    assert second.hops == [Hop("*384*3#", "END Sorry, this service is not available.")]


def test_a_bare_marker_is_an_empty_input_or_an_empty_screen_line() -> None:
    (only,) = parse_transcripts("=== t\n> 1\n< CON a\n>\n<\n< END b\n")
    assert only.hops == [Hop("1", "CON a"), Hop("", "\nEND b")]


def test_the_service_code_typed_again_is_a_redial() -> None:
    (only,) = parse_transcripts(
        "=== t\n> *384*1#\n< CON a\n> 1\n< CON b\n> *384*1#\n< CON c\n> 1\n< END d\n"
    )
    assert only.redials() == [2]
    assert parse_transcripts(TWO)[0].redials() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("> 1\n< CON a\n", "<transcript>:1: input before the first '=== name' header"),
        ("=== t\n< CON a\n", "<transcript>:2: screen line before any '> ' input"),
        ("=== t\n> 1\n", "<transcript>: 't': no screen after > 1"),
        ("=== t\n", "<transcript>: transcript 't' has no hops"),
        ("=== t\n>1\n< CON a\n", "<transcript>:2: put a space after '>'"),
        ("=== t\n> 1\nCON a\n", "<transcript>:3: expected '=== ', '> ', '< ' or '#', got 'CON a'"),
    ],
)
def test_malformed_files_are_refused_with_file_and_line(text: str, message: str) -> None:
    with pytest.raises(TranscriptError) as raised:
        parse_transcripts(text)
    assert str(raised.value) == message
