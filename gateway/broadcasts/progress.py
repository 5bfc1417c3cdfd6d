"""How far a broadcast has got, and cancelling the rest of it.

Counts come from the invites' rows, grouped by status, so the bar is what the outbox did, not
what we hoped. "Sent" includes delivered (a delivered SMS was sent); "queued" includes rows a
worker has claimed and is handing to the provider right now.

Cancelling marks the still-"queued" invites "cancelled": the outbox claims only "queued" rows,
so none of them is ever sent, even by a job already in Redis. Rows already claimed or sent stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, update
from sqlmodel import Session, select

from gateway.models import Broadcast, OutboundMessage

OPEN = ("scheduled", "sending")


@dataclass(frozen=True)
class Progress:
    status: str  # the broadcast's: "scheduled" | "sending" | "sent" | "cancelled"
    total: int  # invites created (0 until a scheduled broadcast starts)
    queued: int = 0  # waiting, or being handed to the provider
    sent: int = 0  # reached the provider (delivered included)
    delivered: int = 0
    failed: int = 0
    cancelled: int = 0
    unknown: int = 0  # a send interrupted where the provider cannot tell (see gateway.outbox)

    @property
    def done(self) -> int:
        return self.total - self.queued

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 and self.finished else (
            round(100 * self.done / self.total) if self.total else 0)

    @property
    def finished(self) -> bool:
        return self.status in ("sent", "cancelled") or (
            self.status == "sending" and self.queued == 0)

    def as_json(self) -> dict[str, object]:
        return {"status": self.status, "total": self.total, "queued": self.queued,
                "sent": self.sent, "delivered": self.delivered, "failed": self.failed,
                "cancelled": self.cancelled, "unknown": self.unknown, "done": self.done,
                "percent": self.percent, "finished": self.finished}


def count(session: Session, broadcast: Broadcast) -> Progress:
    """The broadcast's progress; a "sending" broadcast with nothing left queued becomes "sent"."""
    rows = session.exec(select(OutboundMessage.status, func.count()).where(
        OutboundMessage.broadcast_id == broadcast.id).group_by(OutboundMessage.status)).all()
    by_status = {status: int(n) for status, n in rows}
    queued = by_status.get("queued", 0) + by_status.get("sending", 0)
    status = broadcast.status
    if status == "sending" and queued == 0:
        status = _settle(session, broadcast)
    return Progress(
        status=status, total=sum(by_status.values()), queued=queued,
        sent=by_status.get("sent", 0) + by_status.get("delivered", 0),
        delivered=by_status.get("delivered", 0), failed=by_status.get("failed", 0),
        cancelled=by_status.get("cancelled", 0), unknown=by_status.get("unknown", 0))


def cancel(session: Session, broadcast_id: int) -> int | None:
    """Cancel the broadcast and its queued invites (in the caller's transaction); how many
    invites were stopped, or None if it had finished or was cancelled already."""
    now = datetime.now(UTC)
    broadcasts = Broadcast.__table__.c  # type: ignore[attr-defined]
    messages = OutboundMessage.__table__.c  # type: ignore[attr-defined]
    # the broadcast first: on PostgreSQL this waits for a scheduled start that is queueing
    changed = session.execute(update(Broadcast).where(
        and_(broadcasts.id == broadcast_id, broadcasts.status.in_(OPEN)))
        .values(status="cancelled", updated_at=now))
    if not changed.rowcount:
        return None
    stopped = session.execute(update(OutboundMessage).where(
        and_(messages.broadcast_id == broadcast_id, messages.status == "queued"))
        .values(status="cancelled", failure_reason="cancelled by staff", updated_at=now))
    return int(stopped.rowcount or 0)


def _settle(session: Session, broadcast: Broadcast) -> str:
    table = Broadcast.__table__.c  # type: ignore[attr-defined]
    session.execute(update(Broadcast).where(
        and_(table.id == broadcast.id, table.status == "sending"))
        .values(status="sent", updated_at=datetime.now(UTC)))
    session.commit()
    return "sent"
