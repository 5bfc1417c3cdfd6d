"""Delivery reports: a provider tells us what became of a message we sent.

Each provider word goes through an explicit table to one of our statuses. Reports arrive late,
twice, or out of order, so a report only moves a message *forward*:

    queued 0 < sending, unknown 1 < sent 2 < delivered 3, failed 3

A report applies only when its status ranks higher than the message's, which makes duplicates
no-ops and keeps a late `sent` from overwriting `delivered`. `delivered` and `failed` are both
final: neither replaces the other. The update is one conditional SQL statement (`... WHERE
status IN (lower ranks)`), so two reports racing each other cannot step backwards either.

A report can arrive before the worker has recorded the provider's id (the provider answered,
the worker has not committed yet, or it crashed in between). When the endpoint passes the
recipient's `contact_pseudonym`, a report for an unknown id is matched to that contact's one
message of that provider still waiting for its id ("sending" or "unknown"); the id is recorded
with the status. Otherwise an unknown id is ignored (and logged): the provider must not retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Engine, and_, update
from sqlmodel import Session, select

from gateway import contacts
from gateway.channels import africastalking, twilio
from gateway.channels.base import DeliveryReport, DeliveryStatus
from gateway.models import OutboundMessage

log = logging.getLogger(__name__)

Outcome = Literal["applied", "unchanged", "unknown_message", "unknown_status"]

RANK = {"queued": 0, "sending": 1, "unknown": 1, "sent": 2, "delivered": 3, "failed": 3}

# Provider word -> our status: the tables live with each provider (courier's habit).
TABLES: dict[str, dict[str, DeliveryStatus]] = {
    africastalking.NAME: africastalking.DELIVERY_STATUSES,  # "Success" -> "delivered", ...
    twilio.NAME: twilio.DELIVERY_STATUSES,  # "undelivered" -> "failed", ...
}
# Failure codes meaning the recipient opted out with the provider: the contact is stopped too.
OPT_OUT_CODES: dict[str, frozenset[str]] = {twilio.NAME: frozenset({str(twilio.OPTED_OUT)})}


@dataclass(frozen=True)
class Report:
    provider: str  # "africastalking" | "twilio"
    provider_id: str
    provider_status: str  # the provider's word, e.g. "Success" or "delivered"
    failure_reason: str | None = None  # AT failureReason, or Twilio "30003 ..."
    error_code: str | None = None  # Twilio ErrorCode
    contact_pseudonym: str | None = None  # the recipient's, to match a report that came early


def our_status(provider: str, provider_status: str) -> str | None:
    """The status a provider word means, e.g. ("africastalking", "Success") -> "delivered"."""
    return TABLES.get(provider, {}).get(provider_status.strip())


def apply_delivery(
    engine: Engine, report: DeliveryReport, *, contact_pseudonym: str | None = None
) -> Outcome:
    """`apply_report` for a parsed report (channels' parse_delivery / parse_status)."""
    return apply_report(
        engine, report.provider, report.provider_id, report.provider_status,
        failure_reason=report.reason or None, error_code=report.error_code or None,
        contact_pseudonym=contact_pseudonym,
    )


def apply_report(
    engine: Engine,
    provider: str,
    provider_id: str,
    provider_status: str,
    *,
    failure_reason: str | None = None,
    error_code: str | None = None,
    contact_pseudonym: str | None = None,
) -> Outcome:
    """Move the message `provider_id` forward to the status the report means, if it ranks higher."""
    report = Report(provider, provider_id, provider_status, failure_reason, error_code,
                    contact_pseudonym)
    return apply(engine, report)


def apply(engine: Engine, report: Report) -> Outcome:
    status = our_status(report.provider, report.provider_status)
    if status is None:
        log.warning("delivery: unknown %s status %r ignored", report.provider,
                    report.provider_status[:40])
        return "unknown_status"
    with Session(engine) as session:
        outcome = _apply(session, report, status)
        session.commit()
    return outcome


def _apply(session: Session, report: Report, status: str) -> Outcome:
    message_id = _find(session, report)
    if message_id is None:
        log.info("delivery: %s report for an unknown message id ignored", report.provider)
        return "unknown_message"
    now = datetime.now(UTC)
    values: dict[str, object] = {"status": status, "updated_at": now,
                                 "provider_id": report.provider_id}
    if status == "delivered":
        values["delivered_at"] = now
    if status == "failed":
        values["failure_reason"] = _reason(report)
    lower = [name for name, rank in RANK.items() if rank < RANK[status]]
    row = OutboundMessage.__table__.c
    result = session.execute(
        update(OutboundMessage)
        .where(and_(row.id == message_id, row.status.in_(lower)))
        .values(**values)
    )
    if not result.rowcount:
        return "unchanged"
    if status == "failed" and _opted_out(report):
        opt_out(session, message_id, now)
    return "applied"


def _find(session: Session, report: Report) -> int | None:
    found = session.exec(
        select(OutboundMessage.id).where(
            OutboundMessage.provider == report.provider,
            OutboundMessage.provider_id == report.provider_id,
        )
    ).first()
    if found is not None or report.contact_pseudonym is None:
        return found
    waiting = session.exec(
        select(OutboundMessage.id).where(
            OutboundMessage.provider == report.provider,
            OutboundMessage.contact_pseudonym == report.contact_pseudonym,
            OutboundMessage.provider_id.is_(None),  # type: ignore[union-attr]
            OutboundMessage.status.in_(("sending", "unknown")),  # type: ignore[attr-defined]
        ).limit(2)
    ).all()
    return waiting[0] if len(waiting) == 1 else None  # two candidates: cannot tell which


def _reason(report: Report) -> str:
    parts = [p for p in (report.error_code, report.failure_reason) if p]
    return ": ".join(parts) if parts else report.provider_status


def _opted_out(report: Report) -> bool:
    codes = OPT_OUT_CODES.get(report.provider, frozenset())
    words = {report.error_code, (report.failure_reason or "").split(" ", 1)[0]}
    return bool(codes & words)


def opt_out(session: Session, message_id: int, now: datetime) -> None:
    """Stop the recipient of `message_id` (Twilio 21610): nothing but notices goes to them."""
    message = session.get(OutboundMessage, message_id)
    if message is not None:
        contact = contacts.find_or_create(session, message.contact_pseudonym, now=now)
        if contacts.opt_out(contact, now):
            session.add(contact)
