"""POST servicerequestupdates: a city system moves a report along, and the reporter hears."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from gateway.config import Settings
from gateway.crypto import encrypt_number
from gateway.db import make_engine
from gateway.models import Contact, OutboundMessage, Report, ReportEvent
from gateway.phone import pseudonym
from open311.keys_support import add_api_key
from open311.reports_support import PHONE, add_report
from open311.spec_support import ERROR_FIELDS, check_json

V2 = "/open311/v2"
UPDATE_FIELDS = {"update_id": str, "service_request_id": str, "status": str,
                 "updated_datetime": str}


@pytest.fixture
def api_key(open311_settings: Settings) -> str:
    return add_api_key(open311_settings, "kisumu-crm")


@pytest.fixture
def reported(open311_settings: Settings) -> str:
    """A Swahili-speaking citizen's report, R-WATR, with the number we text them on."""
    settings = open311_settings
    now = datetime.now(UTC)
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        session.add(Contact(pseudonym=pseudonym(PHONE, settings.secret_key), language="sw",
                            channel="africastalking",
                            number_encrypted=encrypt_number(PHONE, settings.secret_key),
                            created_at=now, updated_at=now))
        session.commit()
    engine.dispose()
    add_report(settings, "R-WATR", language="sw")
    return "R-WATR"


def state(settings: Settings, reference: str) -> tuple[str, list[tuple], list[str]]:
    """The report's status, its events (from, to, actor, note) and the SMS queued for it."""
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        report = session.exec(select(Report).where(Report.reference == reference)).one()
        events = [(e.status_from, e.status_to, e.actor, e.note) for e in session.exec(
            select(ReportEvent).where(ReportEvent.report_id == report.id)
            .order_by(col(ReportEvent.id)))]
        texts = [m.text for m in session.exec(select(OutboundMessage)
                                               .order_by(col(OutboundMessage.id)))]
    engine.dispose()
    return report.status, events, texts


def test_a_city_system_moves_a_report_and_the_reporter_is_texted(
    api: TestClient, api_key: str, reported: str, open311_settings: Settings
) -> None:
    response = api.post(f"{V2}/servicerequestupdates.json", data={
        "api_key": api_key, "service_request_id": reported, "status": "IN_PROGRESS",
        "description": "Fundi yuko njiani", "update_id": "crm-991"})
    assert response.status_code == 200
    (update,) = response.json()
    check_json(update, UPDATE_FIELDS)
    assert (update["update_id"], update["service_request_id"], update["status"]) == (
        "crm-991", reported, "open")

    response = api.post(f"{V2}/servicerequestupdates.xml", data={
        "api_key": api_key, "service_request_id": reported.lower(), "status": "fixed",
        "description": "Bomba limerekebishwa"})
    root = ET.fromstring(response.content)
    assert root.tag == "service_request_updates"
    (item,) = root
    assert item.tag == "request_update"
    assert [child.tag for child in item] == list(UPDATE_FIELDS)
    assert item.findtext("status") == "closed"

    status, events, texts = state(open311_settings, reported)
    assert status == "resolved"
    assert events == [("submitted", "in_progress", "open311:kisumu-crm", "Fundi yuko njiani"),
                      ("in_progress", "resolved", "open311:kisumu-crm", "Bomba limerekebishwa")]
    assert texts == [f"Ripoti {reported}: inashughulikiwa. Fundi yuko njiani",
                     f"Ripoti {reported}: imetatuliwa. Bomba limerekebishwa "
                     f"Halijatatuliwa? Jibu FUNGUA {reported} ndani ya siku 14."]
    (record,) = api.get(f"{V2}/requests/{reported}.json").json()
    assert (record["status"], record["status_notes"]) == ("closed", "Bomba limerekebishwa")


def test_a_retried_update_is_applied_once(
    api: TestClient, api_key: str, reported: str, open311_settings: Settings
) -> None:
    form = {"api_key": api_key, "service_request_id": reported, "status": "acknowledged",
            "description": "Seen", "update_id": "crm-7"}
    first = api.post(f"{V2}/servicerequestupdates.json", data=form)
    again = api.post(f"{V2}/servicerequestupdates.json", data=form)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    _, events, texts = state(open311_settings, reported)
    assert len(events) == 1 and len(texts) == 1


def test_a_rejection_takes_the_description_as_its_reason(
    api: TestClient, api_key: str, reported: str, open311_settings: Settings
) -> None:
    response = api.post(f"{V2}/servicerequestupdates.json", data={
        "api_key": api_key, "service_request_id": reported,
        "status": "NOT_COUNCILS_RESPONSIBILITY", "description": "A private borehole"})
    assert response.json()[0]["status"] == "closed"
    status, events, texts = state(open311_settings, reported)
    assert status == "rejected"
    assert events[-1][1:] == ("rejected", "open311:kisumu-crm", "A private borehole")
    assert texts == [f"Ripoti {reported}: imekataliwa. A private borehole"]


@pytest.mark.parametrize(
    ("form", "status", "description"),
    [
        ({"api_key": "not-a-key", "status": "fixed"}, 403, "api_key is not valid"),
        ({"status": "fixed"}, 400, "service_request_id is required"),
        ({"service_request_id": "R-ZZZZ", "status": "fixed"}, 404, "no service request R-ZZZZ"),
        ({"service_request_id": "R-WATR", "status": "mended"}, 400, None),
        ({"service_request_id": "R-WATR"}, 400, "status is required"),
        ({"service_request_id": "R-WATR", "status": "submitted"}, 400, None),
        ({"service_request_id": "R-WATR", "status": "fixed", "description": "x" * 301}, 400,
         "the note is 301 characters; at most 300 (one SMS)"),
        ({"service_request_id": "R-WATR", "status": "fixed", "update_id": "u" * 65}, 400,
         "update_id is longer than 64 characters"),
    ],
    ids=["bad key", "no id", "unknown id", "unknown status", "no status", "not a change",
         "long note", "long update id"],
)
def test_bad_updates_are_refused_and_change_nothing(
    api: TestClient, api_key: str, reported: str, open311_settings: Settings,
    form: dict, status: int, description: str | None,
) -> None:
    response = api.post(f"{V2}/servicerequestupdates.json", data={"api_key": api_key} | form)
    assert response.status_code == status
    (error,) = response.json()
    check_json(error, ERROR_FIELDS)
    assert error["code"] == status
    if description is not None:
        assert error["description"] == description
    assert state(open311_settings, reported) == ("submitted", [], [])


def test_no_api_key_is_a_403_in_the_spec_format(api: TestClient, reported: str) -> None:
    response = api.post(f"{V2}/servicerequestupdates.xml",
                        data={"service_request_id": reported, "status": "fixed"})
    assert response.status_code == 403
    assert ET.fromstring(response.content).findtext("error/code") == "403"
