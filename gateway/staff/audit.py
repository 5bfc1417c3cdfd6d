"""The audit log: every staff action, who, what, on what and when (`audit_entry`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from gateway.models import AuditEntry

DETAIL_LIMIT = 500


def record(
    session: Session, actor: str, action: str, target: str = "", detail: str = ""
) -> AuditEntry:
    """Add an entry in the caller's transaction (it commits with the action it records)."""
    entry = AuditEntry(actor=actor, action=action, target=target[:200],
                       detail=" ".join(detail.split())[:DETAIL_LIMIT],
                       created_at=datetime.now(UTC))
    session.add(entry)
    return entry


def recent(session: Session, *, limit: int = 100, offset: int = 0) -> Sequence[AuditEntry]:
    return session.exec(
        select(AuditEntry).order_by(col(AuditEntry.created_at).desc(), col(AuditEntry.id).desc())
        .offset(offset).limit(limit)
    ).all()
