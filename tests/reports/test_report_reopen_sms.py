"""REOPEN R-7K3Q over SMS: the reporter reopens a resolved report; nobody else can, and not
after reports.reopen_days. The answer and the other reporters' SMS leave through the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sms_support import Texter
from sqlmodel import Session, col, select

from gateway.models import OutboundMessage, Report, ReportEvent


def add_report(engine, reference: str, reporter: str, *, status: str = "resolved",
               resolved_days_ago: float = 1, duplicate_of: int | None = None) -> int:
    now = datetime.now(UTC)
    with Session(engine) as session:
        report = Report(reference=reference, category="water", ward_code="kisumu-central/railways",
                        description="The tap is dry", reporter_pseudonym=reporter, status=status,
                        resolved_at=now - timedelta(days=resolved_days_ago),
                        duplicate_of=duplicate_of, created_at=now, updated_at=now)
        session.add(report)
        session.commit()
        assert report.id is not None
        return report.id


def state(engine, reference: str) -> tuple[str, list[tuple]]:
    with Session(engine) as session:
        report = session.exec(select(Report).where(Report.reference == reference)).one()
        events = [(e.status_from, e.status_to, e.actor) for e in session.exec(
            select(ReportEvent).where(ReportEvent.report_id == report.id)
            .order_by(col(ReportEvent.id)))]
    return report.status, events


@pytest.mark.parametrize("provider", ["africastalking", "twilio"])
def test_the_reporter_reopens_and_the_linked_reporter_hears(db_engine, client, provider):
    reporter, neighbour = Texter(client, provider), Texter(client, provider)
    first = add_report(db_engine, "R-7K3Q", reporter.contact)
    add_report(db_engine, "R-8M4P", neighbour.contact, duplicate_of=first)
    neighbour.text("hello")  # the neighbour is a known contact with a number to text

    assert reporter.text("REOPEN r-7k3q") == [
        "Report R-7K3Q is reopened. We will text you when its status changes."]
    assert state(db_engine, "R-7K3Q") == ("in_progress", [("resolved", "in_progress", "citizen")])
    assert state(db_engine, "R-8M4P")[0] == "in_progress"
    assert reporter.text("REOPEN R-7K3Q") == [
        "Report R-7K3Q is in progress: only a resolved report can be reopened."]


def test_the_neighbour_gets_the_status_sms(db_engine, client):
    reporter, neighbour = Texter(client), Texter(client)
    neighbour.text("hello")
    first = add_report(db_engine, "R-7K3Q", reporter.contact)
    add_report(db_engine, "R-8M4P", neighbour.contact, duplicate_of=first)
    reporter.text("REOPEN R-7K3Q")
    with Session(db_engine) as session:
        texts = [m.text for m in session.exec(select(OutboundMessage).where(
            OutboundMessage.contact_pseudonym == neighbour.contact)
            .order_by(col(OutboundMessage.id)))]
    assert texts[-1] == "Report R-8M4P: in progress."


def test_someone_else_cannot_reopen(db_engine, client):
    reporter, stranger = Texter(client), Texter(client)
    add_report(db_engine, "R-7K3Q", reporter.contact)
    assert stranger.text("REOPEN R-7K3Q") == [
        "Only the person who made report R-7K3Q can reopen it."]
    assert state(db_engine, "R-7K3Q") == ("resolved", [])


def test_too_late_and_unknown_references_change_nothing(db_engine, client):
    reporter = Texter(client)
    add_report(db_engine, "R-7K3Q", reporter.contact, resolved_days_ago=15)
    assert reporter.text("ROUVRIR R-7K3Q") == [
        "Report R-7K3Q was resolved more than 14 days ago. Please send a new report."]
    assert reporter.text("REOPEN R-0000") == [
        "No report has the reference R-0000. Check it and try again, e.g. STATUS R-7K3Q."]
    assert state(db_engine, "R-7K3Q") == ("resolved", [])
