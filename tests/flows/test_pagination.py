"""Cutting menus into USSD screens: exact layouts, the documented error, and a property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.flows.pagination import LIMIT, MAX_OPTIONS, PaginationError, paginate


def test_a_menu_that_fits_is_one_page_without_navigation():
    pages = paginate("Pick one:", ["Water", "Roads"], "More", "Back")
    assert [page.text for page in pages] == ["Pick one:\n1. Water\n2. Roads"]
    assert (pages[0].start, pages[0].stop, pages[0].has_back, pages[0].has_more) == (
        0,
        2,
        False,
        False,
    )


def test_pages_number_globally_and_fill_up_to_the_limit_minus_the_reserve():
    labels = [f"Option {n:02d}" for n in range(1, 8)]  # "1. Option 01" is 12 characters
    pages = paginate("Q?", labels, "More", "Back", limit=56, reserve=10)
    assert [page.text for page in pages] == [
        "Q?\n1. Option 01\n2. Option 02\n98. More",  # a 3rd option would make 50 > 46
        "Q?\n3. Option 03\n4. Option 04\n98. More\n0. Back",  # 45
        "Q?\n5. Option 05\n6. Option 06\n98. More\n0. Back",
        "Q?\n7. Option 07\n0. Back",
    ]
    assert [(page.start, page.stop) for page in pages] == [(0, 2), (2, 4), (4, 6), (6, 7)]


def test_same_input_gives_the_same_pages():
    labels = [f"Ward number {n}" for n in range(40)]
    assert paginate("Ward?", labels, "More", "Back", 182, 40) == paginate(
        "Ward?", labels, "More", "Back", 182, 40
    )


def test_an_option_that_cannot_fit_is_a_clear_error():
    with pytest.raises(PaginationError) as error:
        paginate("Which project?", ["Roads", "x" * 150], "More", "Back", reserve=38)
    assert str(error.value) == (
        f'option 2 "{"x" * 150}" does not fit on one screen: 214 characters with the prompt, '
        "navigation and error line, over the limit of 182"
    )
    assert (error.value.number, error.value.size, error.value.limit) == (2, 214, LIMIT)


def test_more_than_97_options_is_refused():
    with pytest.raises(ValueError, match="at most 97 options"):
        paginate("Q", ["x"] * 98, "More", "Back")


LETTERS = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))  # one line each


def sized_text(low: int, high: int) -> st.SearchStrategy[str]:
    """Text whose length is spread evenly over [low, high] (plain st.text favours short ones)."""
    return st.integers(low, high).flatmap(lambda n: st.text(LETTERS, min_size=n, max_size=n))


# Any menu a flow can hold: 1..97 options (count spread evenly), labels of any length.
labels_strategy = st.integers(1, MAX_OPTIONS).flatmap(
    lambda n: st.lists(sized_text(1, 40), min_size=n, max_size=n)
)


@settings(max_examples=400, deadline=None)
@given(
    header=sized_text(0, 110),
    labels=labels_strategy,
    more=sized_text(1, 12),
    back=sized_text(1, 12),
    error_length=st.integers(min_value=0, max_value=80),
)
def test_every_page_fits_and_every_option_is_reachable_once(
    header, labels, more, back, error_length
):
    reserve = error_length + 1 if error_length else 0
    try:
        pages = paginate(header, labels, more, back, LIMIT, reserve)
    except PaginationError as error:
        # Only when that option cannot fit even alone on a page with both navigation lines.
        alone = "\n".join(
            ([header] if header else [])
            + [f"{error.number}. {labels[error.number - 1]}", f"98. {more}", f"0. {back}"]
        )
        assert len(alone) + reserve > LIMIT
        return

    for index, page in enumerate(pages):
        assert len(page.text) + reserve <= LIMIT
        expected = (
            ([header] if header else [])
            + [f"{n}. {labels[n - 1]}" for n in range(page.start + 1, page.stop + 1)]
            + ([f"98. {more}"] if page.has_more else [])
            + ([f"0. {back}"] if page.has_back else [])
        )
        assert page.text == "\n".join(expected)
        assert page.has_back == (index > 0)
        assert page.has_more == (index < len(pages) - 1)

    # Follow "98. More" from the first page, then "0. Back" to return.
    seen, index = [], 0
    while True:
        seen += range(pages[index].start, pages[index].stop)
        if not pages[index].has_more:
            break
        index += 1
    assert seen == list(range(len(labels)))
    while pages[index].has_back:
        index -= 1
    assert index == 0
