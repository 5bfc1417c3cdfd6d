"""The broadcast progress page, as staff see it: which poll the invites are for."""

from __future__ import annotations

import re

from outbox_support import fresh_number
from sqlmodel import Session

from gateway.models import Broadcast
from staff.launch_support import launch


def heading_and_title(html: str) -> tuple[str, str]:
    return (re.search(r"<h1>(.*?)</h1>", html).group(1),
            re.search(r"<title>(.*?)</title>", html).group(1))


def test_the_progress_page_names_the_poll_by_its_title(admin, db_engine):
    progress_page = launch(admin, {"audience": "csv", "numbers": fresh_number()})
    heading, title = heading_and_title(admin.get(progress_page).text)
    assert heading == "Invites for “Ward budget poll”"
    assert re.fullmatch(r"Broadcast \d+ · Ward budget poll · Civic gateway", title)


def test_a_poll_no_longer_loaded_is_named_by_its_file_name(admin, db_engine):
    with Session(db_engine) as session:
        row = Broadcast(flow="old_poll", text="Dial *384*9#", recipients=0,
                        idempotency_key="test-old-poll", created_by="ann@county.go.ke",
                        status="sent")
        session.add(row)
        session.commit()
        broadcast_id = row.id
    page = admin.get(f"/staff/broadcasts/{broadcast_id}")
    assert page.status_code == 200
    assert heading_and_title(page.text)[0] == "Invites for “old_poll”"
