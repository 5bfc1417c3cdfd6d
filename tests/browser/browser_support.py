"""What browser tests share: logging in as a person does, and screenshots to look at."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page
from staff.staff_support import PASSWORD

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "var" / "screenshots"
PHONE = {"width": 390, "height": 844}  # a common phone's viewport, to check pages read there


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Through the real form, as a person would."""
    page.goto("/staff/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def screenshot(page: Page, name: str) -> Path:
    """The whole page as var/screenshots/NAME.png, for a person to look at (they are not
    compared: layout judgements are made by eye)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def on_a_phone(page: Page, name: str) -> Path:
    """The same page at a phone's width, then back to the laptop size."""
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        return screenshot(page, f"{name}.phone")
    finally:
        if size:
            page.set_viewport_size(size)
