"""Launching polls in tests: contacts in a known state, the launch pages driven as a browser
would, RQ's real worker, and what the provider emulator received."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis
from outbox_support import fresh_number, jsonl
from rq import Worker
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from starlette.testclient import TestClient

from gateway.config import Settings
from gateway.crypto import encrypt_number
from gateway.models import Broadcast, Contact, OutboundMessage
from gateway.phone import pseudonym
from staff.staff_support import csrf_of

QUEUES = ["high", "default", "low"]
LAUNCH = "/staff/polls/budget/launch"


def add_contact(engine: Engine, settings: Settings, *, number: str | None = None,
                with_number: bool = True, **values) -> str:
    """A contact (pseudonym + encrypted number unless `with_number` is False); its number."""
    number = number or fresh_number()
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(Contact(
            pseudonym=pseudonym(number, settings.secret_key),
            number_encrypted=encrypt_number(number, settings.secret_key) if with_number else None,
            created_at=now, updated_at=now, **values))
        session.commit()
    return number


def preview(client: TestClient, data: dict, files: dict | None = None):
    """Open the launch form and post it to the preview, as the browser would."""
    page = client.get(LAUNCH)
    assert page.status_code == 200, page.text
    form = {"csrf_token": csrf_of(page.text), "audience": "contacts", "text": "Dial *384*1#",
            "when": "now", **data}
    return client.post(LAUNCH + "/preview", data=form, files=files)


def confirm_form(preview_html: str) -> dict[str, str]:
    """The preview page's confirm form, field by field (what pressing the button posts)."""
    form = preview_html[preview_html.index('class="stack confirm-form"'):]
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', form))
    numbers = re.search(r'<textarea name="numbers" hidden>([^<]*)</textarea>', form)
    fields["numbers"] = numbers.group(1) if numbers else ""
    return {name: _unescape(value) for name, value in fields.items()}


def _unescape(text: str) -> str:
    return (text.replace("&#34;", '"').replace("&#39;", "'").replace("&lt;", "<")
            .replace("&gt;", ">").replace("&amp;", "&"))


def launch(client: TestClient, data: dict, **extra) -> str:
    """Preview then confirm; the progress page's path."""
    shown = preview(client, data)
    assert shown.status_code == 200, shown.text
    confirmed = client.post(LAUNCH + "/confirm", data={**confirm_form(shown.text), **extra},
                            follow_redirects=False)
    assert confirmed.status_code == 303, confirmed.text
    return confirmed.headers["location"]


def figure(html: str, name: str) -> str:
    found = re.search(rf'<td id="figure-{name}">([^<]*)</td>', html)
    assert found, f"no figure {name}"
    return found.group(1).strip()


def count(html: str, name: str) -> int:
    found = re.search(rf'<td id="count-{name}">(\d+)</td>', html)
    assert found, f"no count {name}"
    return int(found.group(1))


def broadcasts(engine: Engine) -> list[Broadcast]:
    with Session(engine) as session:
        return list(session.exec(select(Broadcast)).all())


def invites(engine: Engine) -> list[OutboundMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboundMessage).order_by(OutboundMessage.id)).all())


def message_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(OutboundMessage)).one())


@dataclass
class Phones:
    """The provider emulator's record, and RQ's worker to send through it."""

    redis: redis.Redis
    sent_file: Path

    def work(self) -> None:
        Worker(QUEUES, connection=self.redis).work(burst=True)

    def received(self) -> list[dict]:
        return jsonl(self.sent_file)
