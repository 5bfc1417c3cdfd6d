"""Likely duplicates: same category and ward within the window link to the first open report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from gateway.models import Report
from gateway.reports.service import change_status


def test_same_category_and_ward_link_to_the_first_and_every_reporter_hears(desk):
    (first_number, first), (second_number, second), (third_number, third) = (
        desk.citizen(language="en"), desk.citizen(language="sw"), desk.citizen(language="fr"))
    original = desk.report(desk.finish_run(first))
    linked = desk.report(desk.finish_run(second, language="sw"))
    also = desk.report(desk.finish_run(third, language="fr"))
    assert original.duplicate_of is None
    assert linked.duplicate_of == original.id and also.duplicate_of == original.id

    with Session(desk.engine, expire_on_commit=False) as session:
        report = session.get(Report, original.id)
        messages = change_status(session, desk.context, report=report, status="in_progress",
                                 actor="open311:county-works", note="Crew sent")
        desk.commit_and_send(session, messages)

    assert desk.sent(first_number)[-1] == f"Report {original.reference}: in progress. Crew sent"
    assert desk.sent(second_number)[-1] == (
        f"Ripoti {linked.reference}: inashughulikiwa. Crew sent")
    assert desk.sent(third_number)[-1] == f"Signalement {also.reference} : en cours. Crew sent"
    assert {desk.report(r.run_id).status for r in (original, linked, also)} == {"in_progress"}


def test_a_change_to_a_linked_report_moves_the_whole_group(desk):
    (first_number, first), (second_number, second) = desk.citizen(), desk.citizen()
    original = desk.report(desk.finish_run(first))
    linked = desk.report(desk.finish_run(second))
    with Session(desk.engine, expire_on_commit=False) as session:
        report = session.get(Report, linked.id)
        messages = change_status(session, desk.context, report=report, status="acknowledged",
                                 actor="staff:ann@example.org")
        desk.commit_and_send(session, messages)
    assert desk.report(original.run_id).status == "acknowledged"
    assert len(desk.sent(first_number)) == 2 and len(desk.sent(second_number)) == 2


def test_another_category_ward_or_an_old_report_is_not_a_duplicate(desk):
    _, who = desk.citizen()
    original = desk.report(desk.finish_run(who))
    roads = desk.report(desk.finish_run(who, category="roads"))
    elsewhere = desk.report(desk.finish_run(who, ward="kisumu-central/migosi"))
    assert roads.duplicate_of is None and elsewhere.duplicate_of is None

    with Session(desk.engine) as session:  # the original is now older than the window (72 h)
        report = session.get(Report, original.id)
        report.created_at = datetime.now(UTC) - timedelta(hours=73)
        session.add(report)
        session.commit()
    late = desk.report(desk.finish_run(who))
    assert late.duplicate_of is None


def test_a_finished_report_takes_no_duplicates(desk):
    _, who = desk.citizen()
    original = desk.report(desk.finish_run(who))
    with Session(desk.engine) as session:
        report = session.get(Report, original.id)
        change_status(session, desk.context, report=report, status="closed", actor="system")
        session.commit()
    fresh = desk.report(desk.finish_run(who))
    assert fresh.duplicate_of is None
    with Session(desk.engine) as session:
        assert len(session.exec(select(Report)).all()) == 2
