"""Launching a poll in a real browser: a CSV audience with a bad row, the preview's figures, the
confirm, and the progress bar running to the end against the provider emulator; pressing
"Send invites" again sends nothing more."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from browser.browser_support import log_in, on_a_phone, screenshot
from browser.conftest import ADMIN, Live
from gateway.broadcasts import launch
from gateway.models import Broadcast

pytestmark = pytest.mark.browser

# Five Kenyan numbers written the ways staff type them, and one row that is not a number.
NUMBERS = ["+254711000301", "+254711000302", "+254711000303", "+254711000304", "+254711000305"]
CSV = ("phone\n"
       "+254711000301\n"
       "0711 000 302\n"
       "not a number\n"
       "254711000303\n"
       "0711-000-304\n"
       "+254 711 000 305\n")
BAD_LINE = 4  # the header is line 1
FINISH_SECONDS = 15.0
BROADCAST_URL = re.compile(r"/staff/broadcasts/\d+$")
# Two presses of "Send invites" at the same moment (Chromium itself drops a second submit of a
# form whose first is under way; an older phone browser or a flaky network sends both).
TWO_PRESSES = """form => Promise.all([1, 2].map(() =>
    fetch(form.action, {method: "POST", body: new FormData(form)})
    .then(r => [r.status, r.url.replace(location.origin, "")])))"""


def preview_csv_launch(page: Page, csv_file: Path) -> str:
    """As an admin: Polls, "Launch to an audience" for the budget poll, the CSV, Preview; the
    pre-filled invite."""
    log_in(page, ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Polls").click()
    page.locator("#poll-budget").get_by_role("link", name="Launch to an audience").click()
    expect(page).to_have_url(re.compile(r"/staff/polls/budget/launch$"))
    expect(page.get_by_role("heading", name="Launch “Ward budget poll”")).to_be_visible()
    invite = page.locator("textarea[name=text]").input_value().strip()
    assert "*384*1#" in invite, invite  # the pre-filled invite asks people to dial the poll
    page.locator("input[name=audience][value=csv]").check()
    page.locator("input[name=csv]").set_input_files(str(csv_file))
    page.locator("input[name=when][value=now]").check()
    screenshot(page, "launch-form")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview: “Ward budget poll”")).to_be_visible()
    return invite


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "audience.csv"
    path.write_text(CSV)
    return path


def test_a_csv_audience_is_previewed_confirmed_and_sent_once(page: Page, live: Live,
                                                             csv_file: Path):
    invite = preview_csv_launch(page, csv_file)
    expect(page.locator("#figure-recipients")).to_have_text("5")
    expect(page.locator("#figure-excluded")).to_have_text("0")
    expect(page.locator("#figure-skipped")).to_have_text("1")
    expect(page.locator("#figure-when")).to_have_text("now")
    expect(page.locator("#row-errors li")).to_have_text([f"line {BAD_LINE}: not a phone number"])
    expect(page.locator("#launch-text")).to_have_text(invite)
    assert live.sent() == []  # a preview sends nothing
    screenshot(page, "launch-preview")
    on_a_phone(page, "launch-preview")

    confirms: list[str] = []
    page.on("request", lambda request: confirms.append(request.method)
            if request.url.endswith("/launch/confirm") else None)
    confirm_form = page.locator("form.confirm-form").evaluate("form => form.outerHTML")
    page.locator("#confirm-launch").click()
    expect(page).to_have_url(BROADCAST_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Invites for “Ward budget poll”")
    broadcast_url = page.url
    bar, state = page.locator("#broadcast-bar"), page.locator("#broadcast-state")
    expect(bar).to_be_visible()
    expect(state).to_have_text("Sending: 0 of 5 done")
    expect(page.locator("#count-queued")).to_have_text("5")
    screenshot(page, "broadcast-sending")

    # The worker sends; progress.js (every 2 s) brings the bar to the end without a reload.
    page.evaluate("window.notReloaded = true")
    finished = page.locator("#broadcast-progress[data-finished=true]")
    deadline = time.monotonic() + FINISH_SECONDS
    while finished.count() == 0 and time.monotonic() < deadline:
        live.work()
        page.wait_for_timeout(500)
    expect(finished).to_have_count(1)
    expect(state).to_have_text("Finished: 5 of 5 done")
    assert bar.evaluate("bar => bar.value") == 100
    expect(page.locator("#count-queued")).to_have_text("0")
    expect(page.locator("#count-sent")).to_have_text("5")
    expect(page.locator("#count-failed")).to_have_text("0")
    expect(page.locator("#broadcast-cancel")).to_be_hidden()
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "broadcast-finished")
    on_a_phone(page, "broadcast-finished")

    invites = live.sent()
    assert sorted(m["to"] for m in invites) == NUMBERS
    assert {m["text"] for m in invites} == {invite}

    # Back to the preview, "Send invites" again. Chromium will not show a POST's page again from
    # history (ERR_CACHE_MISS: "Confirm form resubmission"), so the preview's confirm form, as it
    # was, is put back in the page and pressed: the same broadcast, nothing sent again.
    page.evaluate("html => document.body.insertAdjacentHTML('beforeend', html)", confirm_form)
    page.locator("form.confirm-form #confirm-launch").click()
    expect(page).to_have_url(broadcast_url)
    expect(state).to_have_text("Finished: 5 of 5 done")
    assert confirms == ["POST", "POST"], confirms
    assert len(live.sent()) == len(NUMBERS)
    with Session(live.engine) as session:
        assert len(session.exec(select(Broadcast)).all()) == 1


def test_two_presses_at_the_same_moment_land_on_one_broadcast(
        page: Page, live: Live, csv_file: Path, monkeypatch: pytest.MonkeyPatch):
    # Both presses are held at launch.create until the other arrives, so they race every time.
    both_in = threading.Barrier(2, timeout=5)
    create = launch.create

    def racing_create(*args: Any, **kwargs: Any) -> launch.Created:
        both_in.wait()
        return create(*args, **kwargs)

    monkeypatch.setattr(launch, "create", racing_create)
    preview_csv_launch(page, csv_file)
    landed = page.locator("form.confirm-form").evaluate(TWO_PRESSES)

    with Session(live.engine) as session:
        assert len(session.exec(select(Broadcast)).all()) == 1  # the guarantee holds...
    assert sorted(m["to"] for m in live.sent()) == NUMBERS
    statuses = [status for status, _ in landed]
    assert statuses == [200, 200] and BROADCAST_URL.search(landed[0][1]), landed  # ...the page?
    assert landed[0][1] == landed[1][1], landed
