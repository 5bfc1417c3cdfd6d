"""The report lifecycle: filing a finished run, status changes, reopening, STATUS answers.

    submitted -> acknowledged -> in_progress -> resolved -> closed
         \\____________\\______________\\-> rejected (with a reason)      resolved -> in_progress
                                                                       (reopened by its reporter)

Every change is a `ReportEvent` naming its actor ("staff:<email>", "open311:<name>", "citizen",
"system") and its time. A report and the likely duplicates linked to it (gateway.reports
.duplicates) move together: a change to any of them changes the whole group, and every
reporter in the group gets one SMS, in their language, with their own reference (none to a
contact who sent STOP).

Functions work inside the caller's transaction and never commit. Those that text citizens add
outbox rows (`outbox.add_message`, flushed) and return them: the caller commits, then calls
`send(...)` so no job carries the id of an uncommitted row. Bad input raises `ReportError`
before anything is changed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from gateway import contacts, outbox
from gateway.areas import AreaTree
from gateway.config import Settings
from gateway.crypto import NumberDecryptionError, decrypt_number
from gateway.flows.texts import SystemTexts
from gateway.models import OutboundMessage, Report, ReportEvent
from gateway.reports import STATUSES, duplicates
from gateway.reports.reference import normalize, reference_for

log = logging.getLogger(__name__)

# status -> where staff (or a city system) may move it; closed and rejected are final
TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"acknowledged", "in_progress", "resolved", "closed", "rejected"}),
    "acknowledged": frozenset({"in_progress", "resolved", "closed", "rejected"}),
    "in_progress": frozenset({"resolved", "closed", "rejected"}),
    "resolved": frozenset({"in_progress", "closed"}),
    "closed": frozenset(),
    "rejected": frozenset(),
}
REOPENED = "in_progress"
NOTE_LIMIT = 300  # characters: a note travels in an SMS
ATTEMPTS = 8  # reference collisions tried before giving up (each is ~1 in 10**2 at worst)
USSD_PROVIDER = "africastalking"  # USSD reporters are texted through the USSD provider


class ReportError(ValueError):
    """Bad input (unknown status, a transition not allowed, ...): the message says why."""


class ReopenRefused(ReportError):
    """A reopening the rules do not allow; `why` names the citizen's text ("not_yours",
    "not_resolved", "too_late")."""

    def __init__(self, message: str, why: str):
        super().__init__(message)
        self.why = why


@dataclass(frozen=True)
class ReportContext:
    """What the lifecycle needs besides the session: settings, the texts, the area tree."""

    settings: Settings
    texts: SystemTexts
    areas: AreaTree | None = None

    def text(self, key: str, language: str, **values: object) -> str:
        default = self.settings.languages.default
        return self.texts.text(key, language, fallback=default, **values).strip()


# --- filing ------------------------------------------------------------------------------------


def file_report(
    session: Session,
    context: ReportContext,
    *,
    run_id: str,
    contact: str,
    answers: Mapping[str, Any],
    channel: str,
    language: str,
    now: datetime | None = None,
) -> tuple[Report, list[OutboundMessage]]:
    """The report of a finished report-flow run (idempotent on `run_id`) and its receipt SMS.

    The reference is `reference_for(run_id)`, the one the end screen showed, unless another
    report holds it: then the next attempt's, and the receipt SMS carries that one.
    """
    earlier = session.exec(select(Report).where(Report.run_id == run_id)).first()
    if earlier is not None:
        return earlier, []
    now = now or datetime.now(UTC)
    ward = str(answers.get("ward") or "")
    category = str(answers.get("category") or "other")
    original = duplicates.first_open(session, category=category, ward_code=ward, now=now,
                                     window_hours=context.settings.reports.duplicate_window_hours)
    report = Report(
        reference="",
        run_id=run_id,
        category=category,
        ward_code=ward,
        area_path=_address(context.areas, ward),
        landmark=_optional(answers.get("landmark")),
        description=str(answers.get("description") or ""),
        channel=channel,
        language=language,
        reporter_pseudonym=contact,
        duplicate_of=original.id if original else None,
        created_at=now,
        updated_at=now,
    )
    report.lat, report.long = _centroid(context.areas, ward)
    _insert(session, report, run_id)
    session.add(ReportEvent(report_id=report.id, status_from=None, status_to="submitted",
                            actor="citizen", created_at=now))
    session.flush()
    text = context.text("report_received", language, reference=report.reference)
    message = _text_reporter(session, context, report, text, f"report-received:{report.id}")
    return report, [message] if message else []


def _insert(session: Session, report: Report, run_id: str) -> None:
    """Insert with the first free reference; a savepoint keeps a collision from undoing more."""
    for attempt in range(ATTEMPTS):
        report.reference = reference_for(run_id, attempt)
        if session.exec(select(Report.id).where(Report.reference == report.reference)).first():
            continue
        try:
            with session.begin_nested():
                session.add(report)
            return
        except IntegrityError:  # another worker took the reference meanwhile
            continue
    raise ReportError(f"no free reference for run {run_id} after {ATTEMPTS} attempts")


# --- the lifecycle -----------------------------------------------------------------------------


def change_status(
    session: Session,
    context: ReportContext,
    *,
    report: Report,
    status: str,
    actor: str,
    note: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> list[OutboundMessage]:
    """Move the report's group to `status`; one event per report, one SMS per reporter."""
    note, reason = _clean(note, "note"), _clean(reason, "reason")
    if status not in STATUSES:
        raise ReportError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    if status == "rejected" and not reason:
        raise ReportError("a rejected report needs a reason (--reason)")
    if status not in TRANSITIONS[report.status]:
        allowed = ", ".join(sorted(TRANSITIONS[report.status])) or "none, it is final"
        raise ReportError(f"{report.reference} is {report.status}: it can become {allowed}")
    if not actor.strip():
        raise ReportError("a status change needs an actor (who made it)")
    return _apply(session, context, report, status, actor, note, reason, now or datetime.now(UTC))


def reopen(
    session: Session,
    context: ReportContext,
    *,
    report: Report,
    asker_pseudonym: str,
    now: datetime | None = None,
    answered: bool = False,
) -> list[OutboundMessage]:
    """The reporter reopens a resolved report within `reports.reopen_days` of its resolution.

    `answered`: the asker is told in the reply to their own message (SMS REOPEN), so the status
    SMS goes only to the other reporters of the group.
    """
    now = now or datetime.now(UTC)
    if asker_pseudonym != report.reporter_pseudonym:
        raise ReopenRefused(f"only the reporter of {report.reference} can reopen it", "not_yours")
    if report.status != "resolved" or report.resolved_at is None:
        raise ReopenRefused(
            f"{report.reference} is {report.status}: only a resolved report reopens",
            "not_resolved")
    days = context.settings.reports.reopen_days
    if now - report.resolved_at > timedelta(days=days):
        raise ReopenRefused(f"{report.reference} was resolved more than {days} days ago",
                            "too_late")
    quiet = asker_pseudonym if answered else None
    return _apply(session, context, report, REOPENED, "citizen", None, None, now, quiet=quiet)


def _apply(
    session: Session,
    context: ReportContext,
    report: Report,
    status: str,
    actor: str,
    note: str | None,
    reason: str | None,
    now: datetime,
    quiet: str | None = None,
) -> list[OutboundMessage]:
    messages: list[OutboundMessage] = []
    told: set[str] = {quiet} if quiet else set()
    for member in duplicates.group(session, report):
        if member.status in ("closed", "rejected") and member.id != report.id:
            continue  # a linked report already finished on its own stays as it is
        previous = member.status
        member.status = status
        member.updated_at = now
        member.rejection_reason = reason if status == "rejected" else None
        member.resolved_at = now if status == "resolved" else member.resolved_at
        session.add(member)
        event = ReportEvent(report_id=member.id, status_from=previous, status_to=status,
                            note=reason if status == "rejected" else note, actor=actor,
                            created_at=now)
        session.add(event)
        session.flush()
        who = member.reporter_pseudonym
        if who is None or who in told:
            continue  # Open311 reports have no citizen; one SMS per reporter
        told.add(who)
        text = _status_text(context, member, status, event.note)
        message = _text_reporter(session, context, member, text, f"report-event:{event.id}")
        if message is not None:
            messages.append(message)
    return messages


def _status_text(context: ReportContext, report: Report, status: str, note: str | None) -> str:
    """"Report R-7K3Q: resolved. Pipe repaired" (+ how to reopen it, once it is resolved)."""
    language = report.language
    name = context.text(f"report_status_{status}", language)
    text = context.text("report_status", language, reference=report.reference, status=name,
                        note=note or "")
    if status == "resolved" and report.reporter_pseudonym is not None:
        hint = context.text("report_reopen_hint", language, reference=report.reference,
                            days=context.settings.reports.reopen_days)
        text = f"{text} {hint}"
    return text


# --- STATUS ------------------------------------------------------------------------------------


def status_for(
    session: Session, context: ReportContext, *, reference: str, asker_pseudonym: str,
    language: str,
) -> str:
    """The answer to "STATUS R-7K3Q": details for its reporter, existence and status otherwise."""
    canonical = normalize(reference)
    report = find(session, canonical) if canonical else None
    if report is None:
        shown = canonical or reference.strip()[:12] or "?"
        return context.text("report_unknown", language, reference=shown)
    if asker_pseudonym != report.reporter_pseudonym:
        name = context.text(f"report_status_{report.status}", language)
        return context.text("report_status_public", language, reference=report.reference,
                            status=name)
    return _status_text(context, report, report.status, latest_note(session, report))


def find(session: Session, reference: str) -> Report | None:
    canonical = normalize(reference)
    if canonical is None:
        return None
    return session.exec(select(Report).where(Report.reference == canonical)).first()


def latest_note(session: Session, report: Report) -> str | None:
    if report.status == "rejected":
        return report.rejection_reason
    event = latest_event(session, report.id)
    return event.note if event else None


def latest_event(session: Session, report_id: int | None) -> ReportEvent | None:
    """The report's most recent status change (None for a report with no events)."""
    return session.exec(
        select(ReportEvent).where(ReportEvent.report_id == report_id)
        .order_by(ReportEvent.created_at.desc(), ReportEvent.id.desc())  # type: ignore[attr-defined]
    ).first()


# --- texting reporters -------------------------------------------------------------------------


def _text_reporter(
    session: Session, context: ReportContext, report: Report, text: str, dedupe_key: str
) -> OutboundMessage | None:
    """An outbox row for the reporter, or None: no reporter, no number, or they sent STOP."""
    if report.reporter_pseudonym is None:
        return None
    person = contacts.find(session, report.reporter_pseudonym)
    if person is None or person.opted_out or person.number_encrypted is None:
        return None
    try:
        number = decrypt_number(person.number_encrypted, context.settings.secret_key)
    except NumberDecryptionError:
        log.error("reports: a reporter's number cannot be decrypted (secret key changed?)")
        return None
    return outbox.add_message(session, context.settings, outbox.NewMessage(
        contact_pseudonym=person.pseudonym,
        number_e164=number,
        provider=person.channel or USSD_PROVIDER,
        text=text,
        kind="reply",
        priority="high",
        dedupe_key=dedupe_key,
    ))


def send(redis_sync: Redis, settings: Settings, messages: Sequence[OutboundMessage]) -> int:
    """Enqueue the committed messages' jobs (a Redis failure leaves them to the sweeper)."""
    queued = [message for message in messages if message.status == "queued"]
    return outbox.enqueue(redis_sync, settings, queued) if queued else 0


# --- small helpers -----------------------------------------------------------------------------


def _clean(text: str | None, what: str) -> str | None:
    if text is None or not text.strip():
        return None
    text = " ".join(text.split())
    if len(text) > NOTE_LIMIT:
        raise ReportError(f"the {what} is {len(text)} characters; at most {NOTE_LIMIT} (one SMS)")
    return text


def _optional(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _address(areas: AreaTree | None, ward: str) -> str:
    try:
        return areas.address(ward) if areas is not None and ward else ward
    except KeyError:
        return ward


def _centroid(areas: AreaTree | None, ward: str) -> tuple[float | None, float | None]:
    try:
        point = areas.centroid(ward) if areas is not None and ward else None
    except KeyError:
        point = None
    return point if point is not None else (None, None)


# --- the runs drain ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Filing:
    """What gateway.runs needs to turn finished report runs into reports."""

    context: ReportContext
    flows: frozenset[str]  # the flows whose `[flow] kind = "report"`

    @classmethod
    def of(cls, context: ReportContext, flows: Mapping[str, Any]) -> Filing:
        names = frozenset(name for name, flow in flows.items() if flow.kind == "report")
        return cls(context, names)

    def file(self, session: Session, entry: Mapping[str, Any]) -> list[OutboundMessage]:
        """File a finished-run outbox entry if it is a completed, real report run; a "My
        reports" run that asked to reopen a report reopens it; other "My reports" runs only
        looked."""
        if entry.get("flow") not in self.flows or entry.get("status") != "completed":
            return []
        if entry.get("simulated"):
            return []  # `gateway simulate` files nothing
        _remember_number(session, entry)
        answers = entry["answers"]
        if answers.get("reopen") == "yes":
            return self._reopen(session, entry)
        if "description" not in answers:
            return []  # "My reports": nothing to file
        _, messages = file_report(
            session, self.context,
            run_id=entry["run_id"], contact=entry["contact"], answers=entry["answers"],
            channel=entry["channel"], language=entry["language"],
        )
        return messages


    def _reopen(self, session: Session, entry: Mapping[str, Any]) -> list[OutboundMessage]:
        report = find(session, str(entry["answers"].get("report", "")))
        if report is None:
            log.warning("reports: run %s asked to reopen an unknown report", entry["run_id"])
            return []
        if report.status == "in_progress" and _reopened_by_citizen(session, report):
            return []  # the same run drained twice (a worker died after the commit)
        try:
            return reopen(session, self.context, report=report, asker_pseudonym=entry["contact"])
        except ReportError as error:  # the window closed between the menu and the drain
            log.warning("reports: %s", error)
            return []


def _reopened_by_citizen(session: Session, report: Report) -> bool:
    latest = latest_event(session, report.id)
    return latest is not None and latest.actor == "citizen" and latest.status_from == "resolved"


def _remember_number(session: Session, entry: Mapping[str, Any]) -> None:
    """A USSD reporter's encrypted number travels in the finished-run entry (gateway.hop)."""
    encrypted = entry.get("number_encrypted")
    person = contacts.find(session, entry["contact"])
    if encrypted and person is not None and person.number_encrypted is None:
        person.number_encrypted = encrypted
        session.add(person)
        session.flush()
