"""The reports inbox's filter row in a browser without JavaScript: laid out as label-above-
control cells, one row on a laptop and two columns on a phone, and the plain GET form filters."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from browser.browser_support import PHONE, log_in, screenshot
from browser.conftest import ANALYST, Live

pytestmark = pytest.mark.browser

LABELS = ["Status", "Category", "Area", "Received from", "Received to"]
# *384*2#: English, report a problem, street lights, Kisumu, Kisumu East, Kolwa Central.
REPORT = ["1", "1", "4", "1", "1", "5", "Kondele roundabout", "Lights off at night", "1"]


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    """A laptop-sized browser with JavaScript turned off."""
    context = browser.new_context(base_url=live.url, viewport={"width": 1100, "height": 800},
                                  java_script_enabled=False)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def cells(page: Page) -> list[dict[str, float]]:
    """Each filter's box (label text and control), then the buttons' box, in form order."""
    form = page.get_by_role("form", name="Filter reports")
    boxes = [form.get_by_label(label).locator("xpath=ancestor::label").bounding_box()
             for label in LABELS]
    boxes.append(form.locator(".filter-actions").bounding_box())
    assert all(boxes)
    return boxes  # type: ignore[return-value]


def test_filters_line_up_on_a_laptop_and_a_phone_and_work_without_javascript(page: Page,
                                                                             live: Live):
    ended = live.dial("*384*2#", "+254711000333", REPORT)
    assert ended.startswith("END "), ended
    assert live.drain() == 1
    log_in(page, ANALYST)
    page.goto("/staff/reports")

    laptop = cells(page)
    assert len({round(box["y"] + box["height"]) for box in laptop}) == 1, laptop  # one row
    assert len({round(box["height"]) for box in laptop[:-1]}) == 1, laptop  # same-size cells
    widths = {round(box["width"]) for box in laptop}
    assert max(widths) - min(widths) <= 1, laptop  # equal columns
    assert all(box["x"] + box["width"] <= 1100 for box in laptop)
    screenshot(page, "reports-filters")

    page.set_viewport_size(PHONE)
    phone = cells(page)
    rows = [phone[i:i + 2] for i in range(0, len(phone), 2)]
    assert all(len({round(box["y"] + box["height"]) for box in row}) == 1
               for row in rows), phone  # two a row
    assert len({round(box["x"]) for box in phone}) == 2, phone  # in two columns
    assert all(box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] for box in phone)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "reports-filters.phone")
    page.set_viewport_size({"width": 1100, "height": 800})

    form = page.get_by_role("form", name="Filter reports")
    form.get_by_label("Status").select_option(label="Resolved")
    form.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/staff/reports\?status=resolved&"))
    expect(page.get_by_text("No report matches.")).to_be_visible()
    form.get_by_label("Status").select_option(label="Submitted")
    form.get_by_role("button", name="Filter").click()
    expect(page.locator("table.reports tbody tr")).to_have_count(1)
    expect(page.locator("table.reports")).to_contain_text("Street lights")
    expect(form.get_by_label("Status")).to_have_value("submitted")  # the choice is kept
    form.get_by_role("link", name="Clear").click()
    expect(form.get_by_label("Status")).to_have_value("")
