"""A report's life: filed from a finished run, status changes texted to the reporter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from gateway.models import OutboundMessage, Report, ReportEvent
from gateway.reports.reference import PATTERN, reference_for
from gateway.reports.service import ReportError, change_status, reopen


def change(desk, run_id, status, **options):
    with Session(desk.engine, expire_on_commit=False) as session:
        report = session.exec(select(Report).where(Report.run_id == run_id)).one()
        messages = change_status(session, desk.context, report=report, status=status,
                                 actor="staff:ann@example.org", **options)
        desk.commit_and_send(session, messages)
        return messages


def events(desk, report_id):
    with Session(desk.engine) as session:
        return session.exec(select(ReportEvent).where(ReportEvent.report_id == report_id)
                            .order_by(col(ReportEvent.id))).all()


def test_the_full_lifecycle_texts_the_reporter_in_their_language(desk):
    number, who = desk.citizen(language="sw")
    run_id = desk.finish_run(who, language="sw")
    report = desk.report(run_id)
    assert report.reference == reference_for(run_id)  # the one the end screen showed
    assert PATTERN.match(report.reference)
    assert (report.status, report.category, report.ward_code) == ("submitted", "water",
                                                                  "kisumu-central/railways")
    assert report.area_path == "Railways, Kisumu Central, Kisumu"
    assert report.lat is not None and report.long is not None
    assert desk.sent(number) == [
        f"Asante. Ripoti yako {report.reference} imepokelewa. "
        f"Tuma STATUS {report.reference} kuifuatilia."
    ]

    change(desk, run_id, "acknowledged")
    change(desk, run_id, "in_progress", note="A plumber is on the way")
    change(desk, run_id, "resolved", note="Pipe repaired")
    change(desk, run_id, "closed")

    assert desk.sent(number)[1:] == [
        f"Ripoti {report.reference}: imekubaliwa.",
        f"Ripoti {report.reference}: inashughulikiwa. A plumber is on the way",
        f"Ripoti {report.reference}: imetatuliwa. Pipe repaired "
        f"Halijatatuliwa? Jibu FUNGUA {report.reference} ndani ya siku 14.",
        f"Ripoti {report.reference}: imefungwa.",
    ]
    steps = [(e.status_from, e.status_to, e.actor) for e in events(desk, report.id)]
    assert steps == [
        (None, "submitted", "citizen"),
        ("submitted", "acknowledged", "staff:ann@example.org"),
        ("acknowledged", "in_progress", "staff:ann@example.org"),
        ("in_progress", "resolved", "staff:ann@example.org"),
        ("resolved", "closed", "staff:ann@example.org"),
    ]
    assert all(e.created_at.tzinfo is not None for e in events(desk, report.id))
    assert desk.report(run_id).resolved_at is not None


def test_filing_is_idempotent_on_the_run_id(desk):
    number, who = desk.citizen()
    run_id = desk.finish_run(who)
    desk.finish_run(who, run_id=run_id)  # the same run drained again
    with Session(desk.engine) as session:
        assert len(session.exec(select(Report)).all()) == 1
    assert len(desk.sent(number)) == 1


def test_a_ussd_reporter_gets_the_receipt_through_the_number_in_the_run(desk):
    from gateway.crypto import encrypt_number
    from gateway.phone import pseudonym

    number = "+254711000999"
    who = pseudonym(number, desk.settings.secret_key)
    run_id = desk.finish_run(who, channel="ussd",
                             number_encrypted=encrypt_number(number, desk.settings.secret_key))
    reference = desk.report(run_id).reference
    assert desk.sent(number) == [
        f"Thank you. Your report {reference} was received. Text STATUS {reference} to follow it."
    ]


def test_a_reporter_who_sent_stop_is_not_texted(desk):
    number, who = desk.citizen(opted_out=True)
    run_id = desk.finish_run(who)
    assert change(desk, run_id, "acknowledged") == []
    assert desk.sent(number) == []
    assert desk.report(run_id).status == "acknowledged"


def test_a_rejection_carries_its_reason(desk):
    number, who = desk.citizen(language="fr")
    run_id = desk.finish_run(who, language="fr")
    change(desk, run_id, "rejected", reason="Hors de notre compétence")
    report = desk.report(run_id)
    assert (report.status, report.rejection_reason) == ("rejected", "Hors de notre compétence")
    assert desk.sent(number)[-1] == (
        f"Signalement {report.reference} : rejeté. Hors de notre compétence"
    )


@pytest.mark.parametrize(
    ("status", "options", "message"),
    [
        ("fixed", {}, "unknown status 'fixed'"),
        ("rejected", {}, "needs a reason"),
        ("rejected", {"reason": "   "}, "needs a reason"),
        ("acknowledged", {"note": "x" * 10_000}, "10000 characters; at most 300"),
        ("submitted", {}, "it can become"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(desk, status, options, message):
    number, who = desk.citizen()
    run_id = desk.finish_run(who)
    with Session(desk.engine) as session:
        report = session.exec(select(Report).where(Report.run_id == run_id)).one()
        with pytest.raises(ReportError, match=message):
            change_status(session, desk.context, report=report, status=status,
                          actor="staff:ann@example.org", **options)
        session.rollback()
    assert desk.report(run_id).status == "submitted"
    assert len(events(desk, desk.report(run_id).id)) == 1
    assert len(desk.sent(number)) == 1  # the receipt only


def test_a_closed_report_is_final(desk):
    _, who = desk.citizen()
    run_id = desk.finish_run(who)
    change(desk, run_id, "closed")
    with Session(desk.engine) as session:
        report = session.exec(select(Report).where(Report.run_id == run_id)).one()
        with pytest.raises(ReportError, match="it can become none"):
            change_status(session, desk.context, report=report, status="in_progress",
                          actor="staff:ann@example.org")


# --- reopening ---------------------------------------------------------------------------------


def resolved(desk, *, days_ago: float = 0):
    number, who = desk.citizen()
    run_id = desk.finish_run(who)
    change(desk, run_id, "resolved", note="Done")
    with Session(desk.engine) as session:
        report = session.exec(select(Report).where(Report.run_id == run_id)).one()
        report.resolved_at = datetime.now(UTC) - timedelta(days=days_ago)
        session.add(report)
        session.commit()
    return number, who, run_id


def test_the_reporter_reopens_a_resolved_report_within_the_window(desk):
    number, who, run_id = resolved(desk, days_ago=13)
    with Session(desk.engine, expire_on_commit=False) as session:
        report = session.exec(select(Report).where(Report.run_id == run_id)).one()
        messages = reopen(session, desk.context, report=report, asker_pseudonym=who)
        desk.commit_and_send(session, messages)
    assert desk.report(run_id).status == "in_progress"
    last = events(desk, desk.report(run_id).id)[-1]
    assert (last.status_from, last.status_to, last.actor) == ("resolved", "in_progress", "citizen")
    assert desk.sent(number)[-1].endswith(": in progress.")


@pytest.mark.parametrize(
    ("days_ago", "asker", "message"),
    [
        (15, "reporter", "resolved more than 14 days ago"),
        (1, "stranger", "only the reporter"),
    ],
)
def test_reopening_is_refused_outside_the_rules(desk, days_ago, asker, message):
    _, who, run_id = resolved(desk, days_ago=days_ago)
    asker_pseudonym = who if asker == "reporter" else "someone-else"
    with Session(desk.engine) as session:
        report = session.exec(select(Report).where(Report.run_id == run_id)).one()
        with pytest.raises(ReportError, match=message):
            reopen(session, desk.context, report=report, asker_pseudonym=asker_pseudonym)
    assert desk.report(run_id).status == "resolved"


def test_only_a_resolved_report_reopens(desk):
    _, who = desk.citizen()
    run_id = desk.finish_run(who)
    with Session(desk.engine) as session:
        report = session.exec(select(Report).where(Report.run_id == run_id)).one()
        with pytest.raises(ReportError, match="only a resolved report reopens"):
            reopen(session, desk.context, report=report, asker_pseudonym=who)


def test_no_sms_row_names_a_number_in_clear(desk):
    number, who = desk.citizen()
    desk.finish_run(who)
    with Session(desk.engine) as session:
        rows = session.exec(select(OutboundMessage)).all()
    assert rows and all(number not in row.number_encrypted for row in rows)
