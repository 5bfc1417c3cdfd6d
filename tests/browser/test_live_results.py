"""Live results in a real browser: citizens answer the budget poll over USSD while an analyst
has its results page open, and the figures change in place, without a reload."""

from __future__ import annotations

import itertools

import httpx
import pytest
from playwright.sync_api import Page, expect
from ussd_support import BUDGET, hop_form

from browser.browser_support import log_in, on_a_phone, screenshot
from browser.conftest import ANALYST, Live

pytestmark = pytest.mark.browser

# bench/load.py's English walk: English, "98" for the priority menu's second page, project
# 7 (the menu numbers on across pages), age, ward, no comment, send.
ANSWERS = ["1", "98", "7", "3", "2", "0", "1"]
CHOSEN, CHOSEN_LABEL = "health_drugs", "Health centre drugs"  # what that walk votes for
CITIZENS = ["+254722000401", "+254722000402", "+254722000403"]
REFRESH_SECONDS = 1
_sessions = itertools.count(1)


@pytest.fixture
def live_environ() -> dict[str, str]:
    return {"GATEWAY_STAFF_LIVE_REFRESH_SECONDS": str(REFRESH_SECONDS)}


def answer_by_ussd(live: Live, phone: str, answers: list[str]) -> str:
    """One citizen's whole session, hop by hop, as Africa's Talking posts it; the last screen."""
    session_id = f"ATUid_live_{next(_sessions)}"
    screen = ""
    with httpx.Client(base_url=live.url, timeout=10) as client:
        for hop in range(len(answers) + 1):
            reply = client.post("/ussd/africastalking",
                                data=hop_form(session_id, phone, "*".join(answers[:hop]), BUDGET))
            assert reply.status_code == 200, reply.text
            screen = reply.text
    return screen


def figure(page: Page, selector: str) -> int:
    return int(page.locator(selector).inner_text().split()[0])


def test_answers_over_ussd_appear_on_the_open_results_page(page: Page, live: Live):
    log_in(page, ANALYST)
    page.goto("/staff/polls/budget")
    expect(page.get_by_role("heading", name="Ward budget poll")).to_be_visible()
    section = page.locator("#live-results")
    expect(section).to_have_attribute("data-refresh-seconds", str(REFRESH_SECONDS))
    responses, total = figure(page, "#responses"), figure(page, "#total-priority")
    chart = page.locator(f"#chart-priority-{CHOSEN}")
    chart_before = chart.text_content()
    page.evaluate("window.notReloaded = true")
    # the funnel names steps by their question, the id aside; no unfilled "{priority}" or "…."
    expect(page.locator("#funnel-language th")).to_have_text("Choose a language (language)")
    expect(page.locator("#funnel-confirm th")).to_have_text("Send your vote? (confirm)")
    screenshot(page, "live-results-before")

    for phone in CITIZENS:
        ended = answer_by_ussd(live, phone, ANSWERS)
        assert ended.startswith(f"END Thank you! Your vote for {CHOSEN_LABEL}"), ended
    assert live.drain() == len(CITIZENS)
    refreshed = section.get_attribute("data-refreshed")  # None until live.js's first swap

    # live.js fetches the section again every REFRESH_SECONDS and swaps it in.
    expect(page.locator("#responses")).to_have_text(str(responses + len(CITIZENS)))
    expect(page.locator("#total-priority")).to_have_text(str(total + len(CITIZENS)))
    assert section.get_attribute("data-refreshed") not in (None, refreshed)
    expect(chart).not_to_have_text(chart_before or "")
    expect(chart).to_have_text(f"{len(CITIZENS)} (100%)")  # nobody had voted before
    assert page.evaluate("window.notReloaded") is True  # swapped in place, not reloaded
    screenshot(page, "live-results-after")
    on_a_phone(page, "live-results-after")
