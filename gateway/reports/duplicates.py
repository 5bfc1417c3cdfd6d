"""Likely duplicates: the same category and ward within `reports.duplicate_window_hours`.

FixMyStreet's experience is that SMS reports pile up as duplicates. A new report whose category
and ward match an *open* report filed within the window is linked to the first such report
(`duplicate_of`); the group then moves through the lifecycle together, and every linked
reporter hears about every status change (gateway.reports.service).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from gateway.models import Report

OPEN = ("submitted", "acknowledged", "in_progress")


def first_open(
    session: Session, *, category: str, ward_code: str, now: datetime, window_hours: int
) -> Report | None:
    """The first open, unlinked report of this category and ward filed within the window."""
    if window_hours <= 0:
        return None
    since = now - timedelta(hours=window_hours)
    return session.exec(
        select(Report)
        .where(Report.category == category, Report.ward_code == ward_code)
        .where(col(Report.status).in_(OPEN), col(Report.duplicate_of).is_(None))
        .where(Report.created_at >= since)
        .order_by(col(Report.created_at), col(Report.id))
    ).first()


def group(session: Session, report: Report) -> list[Report]:
    """The report's group: the original first, then every report linked to it."""
    original = session.get(Report, report.duplicate_of) if report.duplicate_of else report
    if original is None:  # the original row is gone (never deleted today): the report alone
        return [report]
    linked = session.exec(
        select(Report).where(Report.duplicate_of == original.id).order_by(col(Report.id))
    ).all()
    return [original, *linked]
