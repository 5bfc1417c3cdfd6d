import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.ussd_text import Split, split_hop


@pytest.mark.parametrize(
    ("consumed", "text", "expected"),
    [
        (None, "", Split("start")),
        (None, "2", Split("start", ("2",))),
        (None, "2*3", Split("start", ("2", "3"))),
        ("", "", Split("replay")),
        ("", "1", Split("input", ("1",))),
        ("", "a*b", Split("input", ("a*b",))),
        ("1", "1*2", Split("input", ("2",))),
        ("1", "1*", Split("input", ("",))),
        ("1", "1*hello*world", Split("input", ("hello*world",))),
        ("1*2", "1*2", Split("replay")),
        ("1*2", "1", Split("out_of_order")),
        ("1*2", "1*3", Split("out_of_order")),
        ("1", "2", Split("out_of_order")),
        ("1", "12", Split("out_of_order")),
    ],
)
def test_split_hop(consumed, text, expected):
    assert split_hop(consumed, text) == expected


@given(st.text(min_size=1, max_size=12), st.lists(st.text(max_size=12), max_size=8))
def test_each_input_comes_back_whole_even_with_stars(first, rest):
    """AT joins every input with `*`; free text may contain `*` or be empty, never confusing us."""
    consumed = ""
    for one in [first, *rest]:
        text = f"{consumed}*{one}" if consumed else one
        assert split_hop(consumed, text) == Split("input", (one,))
        consumed = text


def test_an_empty_first_reply_looks_like_a_replay():
    """AT sends "" again, which is indistinguishable from a retry: the screen is shown again."""
    assert split_hop("", "") == Split("replay")
