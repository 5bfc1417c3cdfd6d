"""Reading runs and poll states, and changing a poll's status or visibility (audited).

Synchronous SQLModel code: the pages call it through `run_in_threadpool`. Simulated runs
(the web simulator, `gateway simulate`) are left out of everything here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, false, func
from sqlmodel import Session, col, select

from gateway.models import FlowRun, Poll
from gateway.staff import audit

STATUSES = ("draft", "live", "closed")


@dataclass(frozen=True)
class RunCounts:
    started: int = 0
    completed: int = 0


def run_counts(engine: Engine) -> dict[str, RunCounts]:
    """Per flow: runs started and completed (real runs only)."""
    with Session(engine) as session:
        rows = session.exec(
            select(FlowRun.flow, FlowRun.status, func.count())
            .where(col(FlowRun.simulated) == false())
            .group_by(FlowRun.flow, FlowRun.status)).all()
    started: dict[str, int] = {}
    completed: dict[str, int] = {}
    for flow, status, n in rows:
        started[flow] = started.get(flow, 0) + n
        if status == "completed":
            completed[flow] = completed.get(flow, 0) + n
    return {flow: RunCounts(n, completed.get(flow, 0)) for flow, n in started.items()}


def polls(engine: Engine) -> dict[str, Poll]:
    with Session(engine) as session:
        return {poll.flow: poll for poll in session.exec(select(Poll))}


def poll(engine: Engine, flow: str) -> Poll:
    """The flow's poll row, or a draft that is not public (a flow with no row)."""
    with Session(engine) as session:
        return session.get(Poll, flow) or Poll(flow=flow)


def runs(engine: Engine, flow: str) -> Sequence[FlowRun]:
    """The flow's real runs, oldest first."""
    with Session(engine) as session:
        return session.exec(
            select(FlowRun).where(FlowRun.flow == flow, col(FlowRun.simulated) == false())
            .order_by(col(FlowRun.ended_at), col(FlowRun.id))).all()


def set_status(engine: Engine, flow: str, status: str, actor: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown poll status {status!r}")
    with Session(engine) as session:
        row = session.get(Poll, flow) or Poll(flow=flow)
        before = row.status
        row.status, row.updated_at = status, datetime.now(UTC)
        session.add(row)
        audit.record(session, actor, "poll_status", f"flow:{flow}", f"{before} -> {status}")
        session.commit()


def set_public(engine: Engine, flow: str, public: bool, actor: str) -> None:
    with Session(engine) as session:
        row = session.get(Poll, flow) or Poll(flow=flow)
        row.public, row.updated_at = public, datetime.now(UTC)
        session.add(row)
        audit.record(session, actor, "poll_public", f"flow:{flow}",
                     "results made public" if public else "results made private")
        session.commit()


def record_export(engine: Engine, flow: str, actor: str, what: str, rows: int) -> None:
    with Session(engine) as session:
        audit.record(session, actor, "export", f"flow:{flow}", f"{what}, {rows} runs")
        session.commit()
