"""A citizen's own reports, as the "My reports" menu lists them (`ReportLine`s, newest first).

Read from SQL when a citizen opens the report flow: once per USSD session (the lines then
travel in the session record, so later hops read nothing more) and once per SMS.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from gateway.flows.model import ReportLine
from gateway.models import Report
from gateway.reports.service import latest_note

MAX_LINES = 9  # the menu shows the nine newest; older ones are one STATUS R-XXXX away


def lines_for(
    session: Session, contact: str, *, reopen_days: int, now: datetime | None = None
) -> tuple[ReportLine, ...]:
    now = now or datetime.now(UTC)
    reports = session.exec(
        select(Report)
        .where(Report.reporter_pseudonym == contact)
        .order_by(col(Report.created_at).desc(), col(Report.id).desc())
        .limit(MAX_LINES)
    ).all()
    return tuple(_line(session, report, reopen_days, now) for report in reports)


def read_lines(engine: Engine, contact: str, *, reopen_days: int) -> tuple[ReportLine, ...]:
    """`lines_for` in a session of its own (the USSD host calls this in a thread)."""
    with Session(engine) as session:
        return lines_for(session, contact, reopen_days=reopen_days)


def _line(session: Session, report: Report, reopen_days: int, now: datetime) -> ReportLine:
    resolved_at = _aware(report.resolved_at)
    reopenable = (
        report.status == "resolved"
        and resolved_at is not None
        and now - resolved_at <= timedelta(days=reopen_days)
    )
    return ReportLine(
        reference=report.reference,
        category=report.category,
        ward=report.ward_code,
        status=report.status,
        note=latest_note(session, report) or "",
        reopenable=reopenable,
    )



def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
