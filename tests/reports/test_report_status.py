"""STATUS R-7K3Q: details for the reporter, existence and public status for anyone else."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from gateway.models import Report
from gateway.reports.reference import ALPHABET, normalize, reference_for
from gateway.reports.service import change_status, status_for


def ask(desk, reference, asker, language="en"):
    with Session(desk.engine) as session:
        return status_for(session, desk.context, reference=reference, asker_pseudonym=asker,
                          language=language)


def test_the_reporter_gets_the_details(desk):
    _, who = desk.citizen()
    report = desk.report(desk.finish_run(who))
    with Session(desk.engine) as session:
        row = session.get(Report, report.id)
        change_status(session, desk.context, report=row, status="in_progress",
                      actor="staff:ann@example.org", note="Crew on site Tuesday")
        session.commit()
    typed = report.reference.lower().replace("-", "")  # "r7k3q": still understood
    assert ask(desk, typed, who) == f"Report {report.reference}: in progress. Crew on site Tuesday"


def test_someone_else_learns_only_that_it_exists_and_its_status(desk):
    _, who = desk.citizen()
    report = desk.report(desk.finish_run(who))
    answer = ask(desk, report.reference, "another-contact", language="sw")
    assert answer == f"Ripoti {report.reference} ipo. Hali: imepokelewa."
    assert "tap" not in answer.lower()


@pytest.mark.parametrize("typed", ["R-ZZZZ", "hello", ""])
def test_an_unknown_reference_gets_a_clear_message(desk, typed):
    answer = ask(desk, typed, "anyone")
    assert answer.startswith("No report has the reference")
    assert "STATUS R-7K3Q" in answer


def test_references_are_deterministic_and_readable():
    assert reference_for("run-1") == reference_for("run-1")
    assert reference_for("run-1") != reference_for("run-1", 1)
    codes = {reference_for(f"run-{n}") for n in range(2000)}
    assert len(codes) > 1990
    assert all(set(code[2:]) <= set(ALPHABET) for code in codes)
    assert not set("ILOU") & set(ALPHABET)
    assert normalize(" r-7k3o ") == "R-7K30"  # Crockford: O reads as zero
    assert normalize("R-7K3Q") == "R-7K3Q" and normalize("STATUS") is None
