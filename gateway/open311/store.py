"""The database side of Open311: reading reports as service requests, and filing new ones.

Functions take the runtime and run synchronously (the routes call them in a thread).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from gateway.areas import AreaTree, load_tree
from gateway.models import ApiKey, Report, ReportEvent
from gateway.open311 import services as catalogue
from gateway.open311.errors import Open311Error, bad_request, forbidden
from gateway.open311.locations import locate
from gateway.open311.queries import RequestQuery
from gateway.open311.records import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Context,
    request_record,
)
from gateway.reports import duplicates
from gateway.reports.reference import normalize, reference_for

if TYPE_CHECKING:
    from gateway.runtime import Runtime

REFERENCE_ATTEMPTS = 8
MAX_DESCRIPTION = 2000  # characters; a city system's description longer than this is refused


def request_records(runtime: Runtime, query: RequestQuery) -> list[dict[str, Any]]:
    if query.ids:
        return request_records_by_id(runtime, list(query.ids))
    statement = select(Report)
    if query.service_codes:
        statement = statement.where(col(Report.category).in_(query.service_codes))
    if query.start is not None:
        statement = statement.where(col(Report.created_at) >= query.start)
    if query.end is not None:
        statement = statement.where(col(Report.created_at) <= query.end)
    if query.statuses:
        wanted = {"open": OPEN_STATUSES, "closed": CLOSED_STATUSES}
        statuses = set().union(*(wanted[status] for status in query.statuses))
        statement = statement.where(col(Report.status).in_(statuses))
    statement = statement.order_by(col(Report.created_at).desc(), col(Report.id).desc())
    with Session(runtime.engine) as session:
        reports = list(session.exec(statement.limit(query.limit)))
        return _records(session, runtime, reports)


def request_records_by_id(runtime: Runtime, references: Sequence[str]) -> list[dict[str, Any]]:
    wanted = [normalize(reference) or reference.strip().upper() for reference in references]
    with Session(runtime.engine) as session:
        found = session.exec(select(Report).where(col(Report.reference).in_(wanted)))
        by_reference = {report.reference: report for report in found}
        return _records(session, runtime, [by_reference[r] for r in wanted if r in by_reference])


def _records(session: Session, runtime: Runtime, reports: list[Any]) -> list[dict[str, Any]]:
    context = _context(runtime)
    notes = _latest_notes(session, [report.id for report in reports])
    originals = _references(session, {r.duplicate_of for r in reports if r.duplicate_of})
    return [
        request_record(
            report,
            notes=_status_notes(report, notes.get(report.id, "")),
            notice=_notice(report, originals),
            context=context,
        )
        for report in reports
    ]


def _status_notes(report: Any, latest_note: str) -> str:
    if report.status == "rejected" and report.rejection_reason:
        return str(report.rejection_reason)
    return latest_note


def _notice(report: Any, originals: Mapping[int, str]) -> str:
    original = originals.get(report.duplicate_of) if report.duplicate_of else None
    return f"Likely duplicate of {original}" if original else ""


def _latest_notes(session: Session, report_ids: list[int]) -> dict[int, str]:
    if not report_ids:
        return {}
    events = session.exec(
        select(ReportEvent)
        .where(col(ReportEvent.report_id).in_(report_ids))
        .order_by(col(ReportEvent.created_at), col(ReportEvent.id))
    )
    return {event.report_id: event.note for event in events if event.note}


def _references(session: Session, report_ids: set[int]) -> dict[int, str]:
    if not report_ids:
        return {}
    found = session.exec(select(Report).where(col(Report.id).in_(report_ids)))
    return {report.id: report.reference for report in found}


def _context(runtime: Runtime) -> Context:
    names = {service.code: service.name for service in catalogue.services(runtime.flows)}
    return Context(service_names=names, tree=areas(runtime), agency=agency(runtime))


def areas(runtime: Runtime) -> AreaTree:
    return _tree(runtime.settings.reports.areas_file)


@functools.lru_cache(maxsize=4)
def _tree(path: str) -> AreaTree:
    return load_tree(path or None)


def agency(runtime: Runtime) -> str:
    """The council's name (settings `reports.agency`), answered when no department is set."""
    return runtime.settings.reports.agency


# --- POST requests ----------------------------------------------------------------------------


def create_request(runtime: Runtime, form: Mapping[str, str]) -> dict[str, Any]:
    """File a report from a city system; the submitter's email, name and phone are not kept.

    The api_key is checked first, so a caller without one learns nothing else.
    """
    with Session(runtime.engine) as session:
        account = account_for(session, form.get("api_key", ""))
        code = form.get("service_code", "").strip()
        if not code:
            raise bad_request("service_code is required")
        service = catalogue.find_service(runtime.flows, code, missing=400)
        description = form.get("description", "").strip()
        if len(description) > MAX_DESCRIPTION:
            raise bad_request(f"description is longer than {MAX_DESCRIPTION} characters")
        answers = catalogue.attribute_answers(service, form)
        tree = areas(runtime)
        location = locate(tree, form)
        report = _file(
            session,
            runtime,
            category=service.code,
            ward_code=location.ward.code,
            area_path=tree.address(location.ward.code),
            lat=location.lat,
            long=location.long,
            description=_with_answers(description, answers),
            account=account,
        )
        originals = _references(session, {report.duplicate_of} if report.duplicate_of else set())
        notice = _notice(report, originals)
        return {"service_request_id": report.reference, "service_notice": notice, "account_id": ""}


def _with_answers(description: str, answers: Mapping[str, str]) -> str:
    """Attribute answers have no column of their own: they close the description."""
    listed = "; ".join(f"{code}: {value}" for code, value in answers.items())
    return f"{description} ({listed})".strip() if listed else description


def account_for(session: Session, token: str) -> str:
    """The name of the API key `token`; 403 when it is unknown or revoked."""
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    for key in session.exec(select(ApiKey).where(col(ApiKey.revoked).is_(False))):
        if hmac.compare_digest(key.key_hash, digest):
            return str(key.name)
    raise forbidden("api_key is not valid")


def _file(session: Session, runtime: Runtime, *, account: str, **fields: Any) -> Any:
    """Insert the report and its first event, linked to a likely duplicate like a citizen's
    (gateway.reports.duplicates); a reference collision retries with the next reference."""
    token = f"open311:{uuid.uuid4().hex}"
    moment = datetime.now(UTC)
    original = duplicates.first_open(
        session,
        category=fields["category"],
        ward_code=fields["ward_code"],
        now=moment,
        window_hours=runtime.settings.reports.duplicate_window_hours,
    )
    for attempt in range(REFERENCE_ATTEMPTS):
        reference = reference_for(token, attempt)
        if session.exec(select(Report.id).where(Report.reference == reference)).first():
            continue
        report = Report(
            reference=reference,
            channel="open311",
            language=runtime.settings.languages.default,
            source="open311",
            open311_account=account,
            duplicate_of=original.id if original else None,
            created_at=moment,
            updated_at=moment,
            **fields,
        )
        session.add(report)
        try:
            session.flush()
        except IntegrityError:  # another report took the reference meanwhile
            session.rollback()
            continue
        assert report.id is not None
        actor = f"open311:{account}"
        session.add(
            ReportEvent(report_id=report.id, status_to="submitted", actor=actor, created_at=moment)
        )
        session.commit()
        return report
    raise Open311Error(503, "no free reference, retry later")
