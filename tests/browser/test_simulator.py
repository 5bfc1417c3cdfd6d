"""The simulator in a real browser: an admin plays the budget poll to the end, and the run is
recorded as simulated, apart from real citizens' results."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from browser.browser_support import log_in, on_a_phone, screenshot
from browser.conftest import ADMIN, Live
from gateway.models import FlowRun

pytestmark = pytest.mark.browser

# (typed, what the screen then starts with): the budget poll's happy path in English.
BUDGET = [
    ("1", "Which project should your ward fund first?"),
    ("3", "How old are you?"),
    ("3", "Which ward do you live in?"),
    ("1", "Any comment for the county?"),
    ("More light near the market", "Priority: Street lights. Ward: Railways."),
    ("1", "Thank you! Your vote for Street lights is recorded."),
]


def send(page: Page, typed: str) -> None:
    page.get_by_label("Your answer").fill(typed)
    page.get_by_role("button", name="Send").click()


def test_an_admin_plays_the_budget_poll_to_the_end(page: Page, live: Live):
    log_in(page, ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Simulator").click()
    expect(page.get_by_role("heading", name="Simulator")).to_be_visible()
    screenshot(page, "simulator-start")
    page.get_by_label("Flow").select_option("budget")
    page.get_by_role("radio", name="USSD").check()
    page.get_by_role("button", name="Start").click()

    screen = page.locator("#sim-screen")
    expect(screen).to_contain_text("Language / Lugha / Langue:")
    screenshot(page, "simulator-ussd-language")
    for typed, expected in BUDGET:
        send(page, typed)
        expect(screen).to_contain_text(expected)
        assert len(screen.inner_text()) <= 182
        if typed == "3":
            screenshot(page, "simulator-ussd-menu")
    expect(page.get_by_text("Session ended.")).to_be_visible()
    expect(page.get_by_label("Your answer")).to_have_count(0)
    screenshot(page, "simulator-ussd-end")
    on_a_phone(page, "simulator-ussd-end")

    assert live.drain() == 1
    with Session(live.engine) as session:
        (run,) = session.exec(select(FlowRun)).all()
    assert (run.flow, run.status, run.simulated) == ("budget", "completed", True)
    assert run.answers["comment"] == "More light near the market"


def test_over_sms_the_replies_appear_as_a_thread(page: Page, live: Live):
    log_in(page, ADMIN)
    page.goto("/staff/simulator")
    page.get_by_label("Flow").select_option("survey")
    page.get_by_role("radio", name="SMS").check()
    page.get_by_role("button", name="Start").click()
    thread = page.locator("#sim-screen")
    expect(thread.locator(".sms-citizen").first).to_have_text("You: SURVEY")
    expect(thread.locator(".sms-gateway")).to_have_count(1)
    page.get_by_label("Your SMS").fill("1")
    page.get_by_role("button", name="Send").click()
    expect(thread.locator(".sms-gateway")).to_have_count(2)
    screenshot(page, "simulator-sms")
    on_a_phone(page, "simulator-sms")
    page.get_by_role("button", name="Leave the conversation").click()
    expect(page.get_by_role("button", name="Start")).to_be_visible()
    assert live.sent() == []  # a simulated citizen is never texted
