"""A report moves along in the browser and its citizen hears back: the SMS reaches the emulator."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from browser.browser_support import log_in, on_a_phone, screenshot
from browser.conftest import ADMIN, Live

pytestmark = pytest.mark.browser

CITIZEN = "+254711000222"
# *384*2#: English, report a problem, street lights, Kisumu, Kisumu East, Kolwa Central.
REPORT = ["1", "1", "4", "1", "1", "5", "Kondele roundabout", "Lights off at night", "1"]


def test_a_status_change_texts_the_citizen(page: Page, live: Live):
    ended = live.dial("*384*2#", CITIZEN, REPORT)
    filed = re.search(r"Your report is (R-\w+)\.", ended)
    assert ended.startswith("END ") and filed, ended
    reference = filed.group(1)
    assert live.drain() == 1
    received = [m["text"] for m in live.sent(to=CITIZEN)]  # the "report received" SMS

    log_in(page, ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    screenshot(page, "reports-list")
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", name=f"Report {reference}")).to_be_visible()
    expect(page.get_by_text("Lights off at night")).to_be_visible()
    page.get_by_label("New status").select_option(label="In progress")
    page.get_by_label("Note to the citizen").fill("A crew will fix the lights on Friday.")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_role("status")).to_have_text(
        "Status changed to In progress. 1 citizen will be texted.")
    screenshot(page, "report-detail-changed")
    on_a_phone(page, "report-detail-changed")

    texts = [m["text"] for m in live.sent(to=CITIZEN)]
    new = texts[len(received):]
    assert len(new) == 1, texts
    assert reference in new[0] and "A crew will fix the lights on Friday." in new[0]
