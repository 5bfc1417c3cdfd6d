"""A citizen dials *384*2#, reports a dry tap, follows it from "My reports" and reopens it.

End to end through the real pieces: the USSD webhook, Redis sessions, the worker's drain
into SQL, the lifecycle service and the provider emulator that captures every SMS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from outbox_support import fresh_number
from sqlmodel import Session, col, select
from starlette.testclient import TestClient
from ussd_support import Citizen

from gateway.app import create_app
from gateway.models import Report, ReportEvent
from gateway.reports.service import Filing, change_status
from gateway.runs import drain_outbox

REPORT = "*384*2#"
REFERENCE = re.compile(r"R-[0-9A-Z]{4,5}")


@pytest.fixture
def ussd(desk) -> Iterator[TestClient]:
    with TestClient(create_app(desk.settings)) as client:
        yield client


def choose(screen: str, label: str) -> str:
    """The number in front of `label` on a menu screen (so the test reads like a person)."""
    found = re.search(rf"^(\d+)\. {re.escape(label)}$", screen, re.M)
    assert found, f"{label!r} is not on the screen:\n{screen}"
    return found.group(1)


def report_a_dry_tap(citizen: Citizen) -> str:
    """Walk the whole report flow in English; the reference the END screen showed."""
    screen = citizen.dial()
    if screen.startswith("CON Language"):
        screen = citizen.type(choose(screen, "English"))
    assert screen == "CON Reports\n1. Report a problem\n2. My reports"
    screen = citizen.type("1")
    screen = citizen.type(choose(screen, "Water"))
    screen = citizen.type(choose(screen, "Kisumu"))
    screen = citizen.type(choose(screen, "Kisumu Central"))
    screen = citizen.type(choose(screen, "Railways"))
    assert screen.startswith("CON Nearby landmark?")
    screen = citizen.type("Behind the bus stage")
    assert screen == "CON Describe the problem:"
    screen = citizen.type("The tap is dry")
    assert screen.startswith("CON Water in Railways: The tap is dry")
    screen = citizen.type(choose(screen, "Submit"))
    found = REFERENCE.search(screen)
    assert screen.startswith("END Thank you. Your report is R-") and found
    return found.group(0)


def drain(desk) -> None:
    """What the worker does every second: finished runs into SQL, reports filed or reopened."""
    drain_outbox(desk.redis, desk.engine, reports=Filing(desk.context, frozenset({"report"})))


def move(desk, reference: str, status: str, note: str | None = None,
         now: datetime | None = None) -> None:
    with Session(desk.engine, expire_on_commit=False) as session:
        report = session.exec(select(Report).where(Report.reference == reference)).one()
        messages = change_status(session, desk.context, report=report, status=status,
                                 actor="staff:ann@example.org", note=note, now=now)
        desk.commit_and_send(session, messages)


def test_a_reporter_follows_and_reopens_a_report_from_my_reports(desk, ussd):
    citizen = Citizen(ussd, phone=fresh_number(), code=REPORT)
    reference = report_a_dry_tap(citizen)
    drain(desk)
    assert desk.sent(citizen.phone) == [
        f"Thank you. Your report {reference} was received. Text STATUS {reference} to follow it."
    ]
    move(desk, reference, "resolved", note="Pipe repaired")

    screen = citizen.dial()  # the language is remembered: straight to the menu
    assert screen == "CON Reports\n1. Report a problem\n2. My reports"
    assert citizen.type("2") == f"CON Your reports:\n1. {reference} Water: resolved"
    assert citizen.type("1") == (
        f"CON {reference} Water, Railways: resolved. Pipe repaired\nNot fixed?\n"
        "1. Reopen it\n2. Back"
    )
    assert citizen.type("2") == f"CON Your reports:\n1. {reference} Water: resolved"
    citizen.type("1")
    assert citizen.type("1") == (
        f"END {reference} is reopened. We will text you when its status changes."
    )
    drain(desk)
    drain(desk)  # a second drain (a worker restarted mid-way) changes nothing more

    with Session(desk.engine) as session:
        report = session.exec(select(Report).where(Report.reference == reference)).one()
        steps = [(e.status_from, e.status_to, e.actor) for e in session.exec(
            select(ReportEvent).where(ReportEvent.report_id == report.id)
            .order_by(col(ReportEvent.id)))]
    assert report.status == "in_progress"
    assert steps == [(None, "submitted", "citizen"),
                     ("submitted", "resolved", "staff:ann@example.org"),
                     ("resolved", "in_progress", "citizen")]
    assert desk.sent(citizen.phone)[1:] == [
        f"Report {reference}: resolved. Pipe repaired "
        f"Not fixed? Reply REOPEN {reference} within 14 days.",
        f"Report {reference}: in progress.",
    ]


def test_a_report_still_open_shows_its_status_and_ends(desk, ussd):
    citizen = Citizen(ussd, phone=fresh_number(), code=REPORT)
    reference = report_a_dry_tap(citizen)
    drain(desk)
    move(desk, reference, "in_progress", note="A plumber is on the way")
    citizen.dial()
    citizen.type("2")
    assert citizen.type("1") == (
        f"END {reference} Water, Railways: in progress. A plumber is on the way"
    )


def test_a_report_resolved_too_long_ago_cannot_be_reopened(desk, ussd):
    citizen = Citizen(ussd, phone=fresh_number(), code=REPORT)
    reference = report_a_dry_tap(citizen)
    drain(desk)
    days = desk.settings.reports.reopen_days
    move(desk, reference, "resolved", now=datetime.now(UTC) - timedelta(days=days + 1))
    citizen.dial()
    citizen.type("2")
    assert citizen.type("1") == f"END {reference} Water, Railways: resolved."


def test_my_reports_lists_only_my_own(desk, ussd):
    reporter = Citizen(ussd, phone=fresh_number(), code=REPORT)
    report_a_dry_tap(reporter)
    drain(desk)
    neighbour = Citizen(ussd, phone=fresh_number(), code=REPORT)
    neighbour.dial()
    assert neighbour.type("1") == "CON Reports\n1. Report a problem\n2. My reports"
    assert neighbour.type("2") == "END You have no reports yet."
    drain(desk)
    with Session(desk.engine) as session:  # looking filed nothing
        assert len(session.exec(select(Report)).all()) == 1


def test_the_newest_report_comes_first(desk, ussd):
    citizen = Citizen(ussd, phone=fresh_number(), code=REPORT)
    first = report_a_dry_tap(citizen)
    drain(desk)
    second = report_a_dry_tap(citizen)
    drain(desk)
    citizen.dial()
    assert citizen.type("2") == (
        f"CON Your reports:\n1. {second} Water: submitted\n2. {first} Water: submitted"
    )
