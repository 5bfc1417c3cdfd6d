"""Reports, reporters and what the gateway stored, read straight from the database, for the
reports inbox tests (tests/staff/test_reports_pages.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from gateway.config import Settings
from gateway.crypto import encrypt_number
from gateway.db import make_engine
from gateway.models import AuditEntry, Contact, OutboundMessage, Report, ReportEvent
from gateway.phone import pseudonym

NOW = datetime.now(UTC).replace(microsecond=0)
PHONE = "+254711000089"


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def add_reporter(settings: Settings, phone: str = PHONE, language: str = "sw") -> str:
    """A contact with an encrypted number, so a status change queues an SMS to them."""
    who = pseudonym(phone, settings.secret_key)
    with _session(settings) as session:
        session.add(Contact(pseudonym=who, language=language, channel="africastalking",
                            number_encrypted=encrypt_number(phone, settings.secret_key)))
        session.commit()
    return who


def add_report(settings: Settings, reference: str, **fields: Any) -> int:
    """A report as the worker files it (with its "submitted" event); returns its id."""
    age = fields.pop("age", timedelta(hours=1))
    original = fields.pop("duplicate_of_reference", None)
    values: dict[str, Any] = {
        "reference": reference, "category": "water", "ward_code": "kisumu-central/railways",
        "area_path": "Railways, Kisumu Central, Kisumu", "description": "The kiosk tap is broken",
        "channel": "sms", "language": "en", "status": "submitted", "source": "citizen",
        "reporter_pseudonym": pseudonym(PHONE, settings.secret_key),
        "created_at": NOW - age, "updated_at": NOW - age,
    } | fields
    with _session(settings) as session:
        if original:
            values["duplicate_of"] = session.exec(
                select(Report.id).where(Report.reference == original)).one()
        report = Report(**values)
        session.add(report)
        session.flush()
        session.add(ReportEvent(report_id=report.id, status_from=None, status_to="submitted",
                                actor="citizen", created_at=values["created_at"]))
        session.commit()
        return report.id or 0


def report(settings: Settings, reference: str) -> Report:
    with _session(settings) as session:
        return session.exec(select(Report).where(Report.reference == reference)).one()


def events(settings: Settings, reference: str) -> list[tuple[str | None, str, str, str | None]]:
    with _session(settings) as session:
        found = session.exec(
            select(ReportEvent).join(Report, col(Report.id) == col(ReportEvent.report_id))
            .where(Report.reference == reference).order_by(col(ReportEvent.id))).all()
        return [(e.status_from, e.status_to, e.actor, e.note) for e in found]


def outbound(settings: Settings) -> list[OutboundMessage]:
    with _session(settings) as session:
        return list(session.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))))


def audit_entries(settings: Settings) -> list[tuple[str, str, str, str]]:
    with _session(settings) as session:
        found = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        return [(e.actor, e.action, e.target, e.detail) for e in found]
