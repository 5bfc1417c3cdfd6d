"""Logging in, in a real browser: a generic error, then the staff home."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from browser.browser_support import log_in, on_a_phone, screenshot
from browser.conftest import ADMIN, ANALYST

pytestmark = pytest.mark.browser


def test_a_wrong_password_says_nothing_specific_and_the_right_one_opens_home(page: Page):
    log_in(page, ADMIN, password="not my password")
    expect(page.get_by_role("alert")).to_have_text(
        "Wrong email or password, or the account is locked for a while.")
    expect(page).to_have_url(re.compile(r"/staff/login$"))
    expect(page.get_by_label("Email")).to_have_value(ADMIN)  # kept, so only the password is retyped
    screenshot(page, "login-error")
    on_a_phone(page, "login-error")

    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    expect(page.get_by_text(f"{ADMIN} (admin)")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Simulator")).to_be_visible()
    screenshot(page, "home-admin")
    on_a_phone(page, "home-admin")


def test_an_analyst_sees_no_admin_pages(page: Page):
    log_in(page, ANALYST)
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    expect(page.get_by_role("link", name="Simulator")).to_have_count(0)
    page.goto("/staff/simulator")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    screenshot(page, "forbidden-analyst")
