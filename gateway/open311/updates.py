"""Status changes from a city system: POST servicerequestupdates (mySociety's extension).

GeoReport v2 has no way to change a request; FixMyStreet's Open311 update extension does, and
city back-office systems that speak Open311 know it:

    POST /open311/v2/servicerequestupdates.{json,xml}
    api_key, service_request_id, status, description (the note), update_id (the caller's id)

`status` is one of ours (acknowledged, in_progress, resolved, closed, rejected) or one of the
extension's (INVESTIGATING, IN_PROGRESS, ACTION_SCHEDULED, FIXED, CLOSED, DUPLICATE,
NOT_COUNCILS_RESPONSIBILITY, NO_FURTHER_ACTION), in any case. The change goes through the same
lifecycle service as staff changes (gateway.reports.service): it is recorded as
"open311:<key name>", and every linked reporter is texted in their language. A retry of an
update that already applied (same status, same note, same caller) answers the same and changes
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from gateway.models import ReportEvent
from gateway.open311.errors import bad_request, not_found
from gateway.open311.records import w3c
from gateway.open311.store import account_for
from gateway.reports import service
from gateway.reports.service import ReportContext, ReportError

if TYPE_CHECKING:
    from gateway.runtime import Runtime

EXTENSION_STATUSES = {
    "open": "acknowledged",
    "investigating": "acknowledged",
    "in_progress": "in_progress",
    "action_scheduled": "in_progress",
    "fixed": "resolved",
    "closed": "closed",
    "duplicate": "rejected",
    "not_councils_responsibility": "rejected",
    "no_further_action": "rejected",
    "internal_referral": "rejected",
}
OUR_STATUSES = ("acknowledged", "in_progress", "resolved", "closed", "rejected")
UPDATE_ID_LIMIT = 64


def post_update(runtime: Runtime, form: Mapping[str, str]) -> dict[str, Any]:
    """Apply one status change; the answer is the spec-shaped `request_update` record."""
    with Session(runtime.engine, expire_on_commit=False) as session:
        account = account_for(session, form.get("api_key", ""))
        reference = form.get("service_request_id", "").strip()
        if not reference:
            raise bad_request("service_request_id is required")
        report = service.find(session, reference)
        if report is None:
            raise not_found(f"no service request {reference[:12]}")
        status = parse_status(form.get("status", ""))
        word = form.get("status", "").strip().lower()
        note = form.get("description", "").strip() or None
        update_id = form.get("update_id", "").strip()
        if len(update_id) > UPDATE_ID_LIMIT:
            raise bad_request(f"update_id is longer than {UPDATE_ID_LIMIT} characters")
        actor = f"open311:{account}"
        reason = (note or word.replace("_", " ")) if status == "rejected" else None
        earlier = _same_update(session, report.id, actor, status, reason or note)
        if earlier is not None:
            return _record(report.reference, status, update_id, earlier)
        context = ReportContext(runtime.settings, runtime.texts, runtime.areas)
        try:
            messages = service.change_status(
                session, context, report=report, status=status, actor=actor,
                note=None if status == "rejected" else note, reason=reason,
            )
        except ReportError as error:
            raise bad_request(str(error)) from None
        session.commit()
        service.send(runtime.redis_sync, runtime.settings, messages)
        event = service.latest_event(session, report.id)
        assert event is not None
        return _record(report.reference, status, update_id, event)


def parse_status(text: str) -> str:
    word = text.strip().lower().replace(" ", "_")
    if word in OUR_STATUSES:
        return word
    if word in EXTENSION_STATUSES:
        return EXTENSION_STATUSES[word]
    known = ", ".join((*OUR_STATUSES, *(w.upper() for w in EXTENSION_STATUSES)))
    raise bad_request(f"status must be one of {known}" if word else "status is required")


def _same_update(
    session: Session, report_id: int | None, actor: str, status: str, note: str | None
) -> ReportEvent | None:
    """The latest event, if it is this very change by this very caller (a retry)."""
    event = service.latest_event(session, report_id)
    if event is None or (event.actor, event.status_to, event.note) != (actor, status, note):
        return None
    return event


def _record(reference: str, status: str, update_id: str, event: ReportEvent) -> dict[str, Any]:
    return {
        "update_id": update_id or f"{reference}-{event.id}",
        "service_request_id": reference,
        "status": "closed" if status in ("resolved", "closed", "rejected") else "open",
        "updated_datetime": w3c(event.created_at),
    }
