"""Reports put straight into the database, as the worker files them, for the Open311 tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from gateway.config import Settings
from gateway.db import make_engine
from gateway.phone import pseudonym

PHONE = "+254711000089"
NOW = datetime.now(UTC).replace(microsecond=0)


def add_report(settings: Settings, reference: str, **fields: Any) -> None:
    from gateway.models import Report

    age = fields.pop("age", timedelta(hours=1))
    values: dict[str, Any] = {
        "reference": reference,
        "category": "water",
        "ward_code": "kisumu-central/railways",
        "description": "The kiosk tap is broken",
        "channel": "sms",
        "language": "en",
        "reporter_pseudonym": pseudonym(PHONE, settings.secret_key),
        "status": "submitted",
        "created_at": NOW - age,
        "updated_at": NOW - age,
        "source": "citizen",
    } | fields
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        session.add(Report(**values))
        session.commit()
    engine.dispose()


def add_event(settings: Settings, reference: str, **fields: Any) -> None:
    from sqlmodel import select

    from gateway.models import Report, ReportEvent

    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        report = session.exec(select(Report).where(Report.reference == reference)).one()
        session.add(ReportEvent(report_id=report.id, created_at=NOW, **fields))
        session.commit()
    engine.dispose()
