"""What the reports inbox reads: a page of filtered reports with their linked counts, and one
report with its history and duplicates. Read-only; the status change is gateway.reports.service.

A reporter's pseudonym never leaves this module in a list or CSV row: rows are built field by
field, so an export cannot carry what it was never given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from gateway.flows.model import Flow
from gateway.models import Report, ReportEvent
from gateway.open311.services import services
from gateway.reports import STATUSES
from gateway.reports.service import TRANSITIONS

STATUS_LABELS = {
    "submitted": "Submitted",
    "acknowledged": "Acknowledged",
    "in_progress": "In progress",
    "resolved": "Resolved",
    "closed": "Closed",
    "rejected": "Rejected",
}


@dataclass(frozen=True)
class ReportRow:
    """One report as staff see it in the list and the CSV."""

    reference: str
    received: datetime
    category: str  # the category's name ("Water"), its code if the flow no longer has it
    place: str
    ward_code: str
    status: str
    channel: str
    language: str
    department: str
    description: str
    linked: int  # reports linked to this one as likely duplicates
    original: str  # the reference this one is a duplicate of, "" if none


@dataclass(frozen=True)
class Link:
    reference: str
    status: str


@dataclass(frozen=True)
class ReportDetail:
    report: Report
    category: str
    history: list[ReportEvent]
    original: Link | None
    linked: list[Link]
    next_statuses: list[str]  # where an admin may move it now, in lifecycle order


def category_names(flows: Mapping[str, Flow]) -> dict[str, str]:
    """Category code -> name, from the report flow's category step (the one source of truth)."""
    return {service.code: service.name for service in services(flows)}


def label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def page_of(
    session: Session, where: Sequence[ColumnElement[bool]], names: Mapping[str, str], *,
    offset: int = 0, limit: int | None = None,
) -> list[ReportRow]:
    """Reports matching `where`, newest first (all of them when `limit` is None: the CSV)."""
    reports = session.exec(
        select(Report).where(*where)
        .order_by(col(Report.created_at).desc(), col(Report.id).desc())
        .offset(offset).limit(limit)
    ).all()
    return rows(session, reports, names)


def rows(session: Session, reports: Sequence[Report], names: Mapping[str, str]) -> list[ReportRow]:
    ids = [r.id for r in reports if r.id is not None]
    originals = {r.duplicate_of for r in reports if r.duplicate_of is not None}
    counts = _linked_counts(session, ids)
    references = _references(session, originals)
    return [ReportRow(
        reference=r.reference, received=r.created_at, category=names.get(r.category, r.category),
        place=r.area_path or r.ward_code, ward_code=r.ward_code, status=r.status,
        channel=r.channel, language=r.language, department=r.department or "",
        description=r.description, linked=counts.get(r.id or 0, 0),
        original=references.get(r.duplicate_of, "") if r.duplicate_of else "",
    ) for r in reports]


def detail(session: Session, report: Report, names: Mapping[str, str]) -> ReportDetail:
    history = session.exec(
        select(ReportEvent).where(ReportEvent.report_id == report.id)
        .order_by(col(ReportEvent.created_at), col(ReportEvent.id))
    ).all()
    original = session.get(Report, report.duplicate_of) if report.duplicate_of else None
    linked = session.exec(
        select(Report).where(Report.duplicate_of == report.id).order_by(col(Report.id))
    ).all()
    allowed = TRANSITIONS.get(report.status, frozenset())
    return ReportDetail(
        report=report,
        category=names.get(report.category, report.category),
        history=list(history),
        original=Link(original.reference, original.status) if original else None,
        linked=[Link(r.reference, r.status) for r in linked],
        next_statuses=[s for s in STATUSES if s in allowed],
    )


def _linked_counts(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    found = session.exec(
        select(Report.duplicate_of, func.count()).where(col(Report.duplicate_of).in_(ids))
        .group_by(col(Report.duplicate_of))
    ).all()
    return {original: count for original, count in found if original is not None}


def _references(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    found = session.exec(select(Report.id, Report.reference).where(col(Report.id).in_(ids))).all()
    return {report_id: reference for report_id, reference in found if report_id is not None}
