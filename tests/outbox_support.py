"""Helpers for the outbox tests: rows in a known state, numbers, and the emulator's record."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from gateway.config import Settings
from gateway.models import Contact, OutboundMessage
from gateway.outbox import NewMessage, add_message
from gateway.phone import pseudonym

_numbers = itertools.count(1)


def fresh_number() -> str:
    return f"+2547{next(_numbers) % 100000000:08d}"


def make_message(
    engine: Engine, settings: Settings, *, number: str | None = None, provider: str = "twilio",
    text: str = "Asante! Your answer was saved.", kind: str = "reply", **values: Any,
) -> OutboundMessage:
    """A committed row (no job), then `values` written over it."""
    number = number or fresh_number()
    with Session(engine, expire_on_commit=False) as session:
        message = add_message(session, settings, NewMessage(
            pseudonym(number, settings.secret_key), number, provider, text, kind))
        for name, value in values.items():
            setattr(message, name, value)
        session.add(message)
        session.commit()
        return message


def message(engine: Engine, message_id: int) -> OutboundMessage:
    with Session(engine) as session:
        row = session.get(OutboundMessage, message_id)
        assert row is not None
        return row


def contact(engine: Engine, settings: Settings, number: str) -> Contact | None:
    with Session(engine) as session:
        return session.exec(
            select(Contact).where(Contact.pseudonym == pseudonym(number, settings.secret_key))
        ).first()


def add_contact(engine: Engine, settings: Settings, number: str, **values: Any) -> None:
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(Contact(pseudonym=pseudonym(number, settings.secret_key), created_at=now,
                            updated_at=now, **values))
        session.commit()


def jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def outbox_environ(
    *, redis_url: str, database_url: str, var_dir: Path, emulator_url: str, **outbox: Any
) -> dict[str, str]:
    """The environment of a process that sends (a forked RQ work horse, `gateway worker`):
    the test's Redis and database, both providers at the emulator, [outbox] overrides."""
    from conftest import REPO, environ_for_tests

    from gateway.config import (
        DEV_AT_API_KEY,
        DEV_AT_USERNAME,
        DEV_TWILIO_ACCOUNT_SID,
        DEV_TWILIO_AUTH_TOKEN,
        EMULATOR_TWILIO_NUMBER,
    )

    env = environ_for_tests(redis_url=redis_url, database_url=database_url, var_dir=var_dir)
    env.update({
        "GATEWAY_SETTINGS": str(REPO / "settings.toml"),
        "GATEWAY_AFRICASTALKING_API_URL": emulator_url,
        "GATEWAY_TWILIO_API_URL": emulator_url,
        "GATEWAY_TWILIO_NUMBERS": EMULATOR_TWILIO_NUMBER,
        "AT_USERNAME": DEV_AT_USERNAME,
        "AT_API_KEY": DEV_AT_API_KEY,
        "TWILIO_ACCOUNT_SID": DEV_TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": DEV_TWILIO_AUTH_TOKEN,
        "GATEWAY_AFRICASTALKING_TIMEOUT_SECONDS": "2",
        "GATEWAY_TWILIO_TIMEOUT_SECONDS": "2",
        "GATEWAY_OUTBOX_RETRY_INTERVALS": "0",
    })
    for key, value in outbox.items():
        env[f"GATEWAY_OUTBOX_{key.upper()}"] = str(value)
    return env
