"""POST requests: a city system files a report with its api_key; every bad input is refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from gateway.config import Settings
from gateway.db import make_engine
from open311.keys_support import add_api_key
from open311.reports_support import PHONE
from open311.spec_support import (
    CREATED_FIELDS,
    ERROR_FIELDS,
    REQUEST_FIELDS,
    check_json,
    check_xml,
    parse_xml,
)

V2 = "/open311/v2"


@pytest.fixture
def api_key(open311_settings: Settings) -> str:
    return add_api_key(open311_settings, "kisumu-crm")


def _post(api: TestClient, fmt: str = "json", **form: str) -> Any:
    return api.post(f"{V2}/requests.{fmt}", data=form)


def _reports(settings: Settings) -> list[Any]:
    from gateway.models import Report

    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        found = list(session.exec(select(Report)))
    engine.dispose()
    return found


def test_post_json_files_a_report_at_the_named_ward(
    api: TestClient, api_key: str, open311_settings: Settings
) -> None:
    response = _post(
        api,
        api_key=api_key,
        service_code="water",
        address_string="Railways, Kisumu Central",
        description="Kiosk dry since Monday",
        **{"attribute[problem]": "dry"},
    )
    assert response.status_code == 200, response.text
    (created,) = response.json()
    check_json(created, CREATED_FIELDS)
    reference = created["service_request_id"]
    assert reference.startswith("R-")
    (record,) = api.get(f"{V2}/requests/{reference}.json").json()
    check_json(record, REQUEST_FIELDS)
    assert record["status"] == "open"
    assert record["service_code"] == "water"
    assert record["address"] == "Railways, Kisumu Central, Kisumu"
    assert record["description"].startswith("Kiosk dry since Monday")
    assert "problem: dry" in record["description"]


def test_post_xml_with_lat_long_takes_the_nearest_ward(api: TestClient, api_key: str) -> None:
    response = _post(
        api, "xml", api_key=api_key, service_code="roads", lat="-0.1022", long="34.7617"
    )
    assert response.status_code == 200, response.text
    root = parse_xml(response.content)
    assert root.tag == "service_requests"
    (element,) = root
    reference = check_xml(element, "request", CREATED_FIELDS)["service_request_id"]
    (record,) = api.get(f"{V2}/requests/{reference}.json").json()
    assert record["address"].endswith("Kisumu")
    assert record["lat"] == pytest.approx(-0.1022)
    assert record["long"] == pytest.approx(34.7617)


def test_personal_details_are_not_kept(
    api: TestClient, api_key: str, open311_settings: Settings
) -> None:
    response = _post(
        api,
        api_key=api_key,
        service_code="waste",
        address_string="Kondele",
        description="Heap of rubbish by the market",
        email="amina@example.org",
        first_name="Amina",
        last_name="Otieno",
        phone=PHONE,
    )
    assert response.status_code == 200, response.text
    (report,) = _reports(open311_settings)
    stored = repr(report.model_dump())
    for detail in ("amina@example.org", "Amina", "Otieno", PHONE, PHONE[1:]):
        assert detail not in stored
    for path in ("requests.json", "requests.xml"):
        body = api.get(f"{V2}/{path}").text
        for detail in ("amina@example.org", "Amina", "Otieno", PHONE, PHONE[1:]):
            assert detail not in body


BAD = [
    ({"service_code": "water", "address_string": "Railways"}, 403, "api_key"),
    ({"api_key": "wrong", "service_code": "water", "address_string": "Railways"}, 403, "api_key"),
    ({"api_key": "wrong", "service_code": "volcano"}, 403, "api_key"),  # the key comes first
    ({"api_key": "{key}", "address_string": "Railways"}, 400, "service_code"),
    ({"api_key": "{key}", "service_code": "volcano", "address_string": "Railways"}, 400, "volcano"),
    ({"api_key": "{key}", "service_code": "water"}, 400, "location"),
    ({"api_key": "{key}", "service_code": "water", "address_string": "Atlantis"}, 400, "Atlantis"),
    ({"api_key": "{key}", "service_code": "water", "lat": "-0.1"}, 400, "lat and long"),
    ({"api_key": "{key}", "service_code": "water", "lat": "x", "long": "y"}, 400, "lat"),
    ({"api_key": "{key}", "service_code": "water", "lat": "91", "long": "34"}, 400, "lat"),
    (
        {
            "api_key": "{key}",
            "service_code": "water",
            "address_string": "Railways",
            "description": "x" * 10_000,
        },
        400,
        "description",
    ),
    (
        {
            "api_key": "{key}",
            "service_code": "water",
            "address_string": "Railways",
            "attribute[problem]": "on fire",
        },
        400,
        "attribute[problem]",
    ),
]


@pytest.mark.parametrize(("form", "status", "mentions"), BAD)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_posts_are_refused_and_change_nothing(
    api: TestClient,
    api_key: str,
    open311_settings: Settings,
    form: dict[str, str],
    status: int,
    mentions: str,
    fmt: str,
) -> None:
    data = {name: value.replace("{key}", api_key) for name, value in form.items()}
    response = _post(api, fmt, **data)
    assert response.status_code == status
    if fmt == "json":
        (error,) = response.json()
        check_json(error, ERROR_FIELDS)
        assert error["code"] == status
        assert mentions in error["description"]
    else:
        (error,) = parse_xml(response.content)
        texts = check_xml(error, "error", ERROR_FIELDS)
        assert texts["code"] == str(status)
        assert mentions in texts["description"]
    assert _reports(open311_settings) == []


def test_a_revoked_key_is_refused(api: TestClient, open311_settings: Settings) -> None:
    key = add_api_key(open311_settings, "old-crm", revoked=True)
    response = _post(api, api_key=key, service_code="water", address_string="Railways")
    assert response.status_code == 403


def test_a_post_like_an_open_report_is_linked_to_it(
    api: TestClient, api_key: str, open311_settings: Settings
) -> None:
    from open311.reports_support import add_report

    add_report(open311_settings, "R-AAAA", category="roads", ward_code="kisumu-central/kondele")
    response = _post(api, api_key=api_key, service_code="roads", address_string="Kondele")
    (created,) = response.json()
    assert created["service_notice"] == "Likely duplicate of R-AAAA"
    (record,) = api.get(f"{V2}/requests/{created['service_request_id']}.json").json()
    assert record["service_notice"] == "Likely duplicate of R-AAAA"


def test_a_status_change_shows_as_closed_with_its_notes(
    api: TestClient, api_key: str, open311_settings: Settings
) -> None:
    """GeoReport v2 has no update method: the city's change comes through the service."""
    from gateway.models import Report
    from gateway.reports.service import ReportContext, change_status

    response = _post(api, api_key=api_key, service_code="waste", address_string="Kondele")
    reference = response.json()[0]["service_request_id"]
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    context = ReportContext(settings=runtime.settings, texts=runtime.texts)
    with Session(runtime.engine) as session:
        report = session.exec(select(Report).where(Report.reference == reference)).one()
        for status, note in (("in_progress", "Truck booked"), ("resolved", "Heap cleared")):
            change_status(
                session,
                context,
                report=report,
                status=status,
                actor="open311:kisumu-crm",
                note=note,
            )
        session.commit()
    (record,) = api.get(f"{V2}/requests/{reference}.json").json()
    assert (record["status"], record["status_notes"]) == ("closed", "Heap cleared")
    assert record["updated_datetime"] >= record["requested_datetime"]
