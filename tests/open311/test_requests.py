"""GET requests and requests/{id}: the spec's fields and types, the filters, the errors."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.phone import pseudonym
from open311.reports_support import PHONE, add_event, add_report
from open311.spec_support import (
    ERROR_FIELDS,
    REQUEST_FIELDS,
    check_json,
    check_xml,
    parse_xml,
)

V2 = "/open311/v2"


@pytest.fixture
def reports(open311_settings: Settings) -> Settings:
    settings = open311_settings
    add_report(settings, "R-AAAA", age=timedelta(hours=3))
    add_event(settings, "R-AAAA", status_from=None, status_to="submitted", actor="citizen")
    add_event(
        settings,
        "R-AAAA",
        status_from="submitted",
        status_to="in_progress",
        actor="staff:a@example.org",
        note="Plumber sent <today> & tomorrow",
    )
    add_report(
        settings,
        "R-BBBB",
        category="roads",
        ward_code="westlands/parklands-highridge",
        status="rejected",
        rejection_reason="Not a county road",
        age=timedelta(days=2),
    )
    add_report(settings, "R-CCCC", status="resolved", age=timedelta(days=10))
    add_report(settings, "R-7K3Q", age=timedelta(days=120))
    return settings


def services_by_code(api: TestClient) -> dict[str, str]:
    return {s["service_code"]: s["service_name"] for s in api.get(f"{V2}/services.json").json()}


def _json(api: TestClient, query: str = "") -> list[dict[str, Any]]:
    response = api.get(f"{V2}/requests.json{query}")
    assert response.status_code == 200, response.text
    return response.json()


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["service_request_id"] for record in records]


def test_requests_json_has_the_spec_fields_and_types(api: TestClient, reports: Settings) -> None:
    records = _json(api)
    assert _ids(records) == ["R-AAAA", "R-BBBB", "R-CCCC"]  # newest first, last 90 days
    for record in records:
        check_json(record, REQUEST_FIELDS)
    first = records[0]
    assert first["status"] == "open"
    assert first["status_notes"] == "Plumber sent <today> & tomorrow"
    assert first["service_name"] == services_by_code(api)["water"]
    assert first["address"] == "Railways, Kisumu Central, Kisumu"
    assert first["address_id"] == "kisumu-central/railways"
    assert first["requested_datetime"].endswith("Z")
    assert first["expected_datetime"] == ""
    assert first["media_url"] == ""
    rejected = records[1]
    assert rejected["status"] == "closed"
    assert rejected["status_notes"] == "Not a county road"
    assert records[2]["status"] == "closed"


def test_requests_xml_has_the_spec_elements(api: TestClient, reports: Settings) -> None:
    response = api.get(f"{V2}/requests.xml")
    assert response.status_code == 200
    root = parse_xml(response.content)
    assert root.tag == "service_requests"
    texts = [check_xml(element, "request", REQUEST_FIELDS) for element in root]
    assert [t["service_request_id"] for t in texts] == ["R-AAAA", "R-BBBB", "R-CCCC"]
    assert texts[0]["status_notes"] == "Plumber sent <today> & tomorrow"  # escaped, parsed back
    float(texts[0]["lat"]), float(texts[0]["long"])


def test_one_request_in_both_formats(api: TestClient, reports: Settings) -> None:
    (record,) = api.get(f"{V2}/requests/R-BBBB.json").json()
    check_json(record, REQUEST_FIELDS)
    assert record["service_code"] == "roads"
    root = parse_xml(api.get(f"{V2}/requests/R-BBBB.xml").content)
    assert root.tag == "service_requests"
    (element,) = root
    assert check_xml(element, "request", REQUEST_FIELDS)["status"] == "closed"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?service_request_id=R-CCCC,R-AAAA", ["R-CCCC", "R-AAAA"]),
        ("?service_request_id=R-7K3Q&status=closed", ["R-7K3Q"]),  # overrides other filters
        ("?service_code=roads", ["R-BBBB"]),
        ("?service_code=water,roads", ["R-AAAA", "R-BBBB", "R-CCCC"]),
        ("?status=open", ["R-AAAA"]),
        ("?status=closed", ["R-BBBB", "R-CCCC"]),
        ("?status=open,closed", ["R-AAAA", "R-BBBB", "R-CCCC"]),
        ("?start_date={days_ago_5}", ["R-AAAA", "R-BBBB"]),
        ("?end_date={days_ago_5}", ["R-CCCC"]),
        ("?start_date={days_ago_150}&end_date={days_ago_100}", ["R-7K3Q"]),
        ("?service_code=water&status=open&start_date={days_ago_5}", ["R-AAAA"]),
        ("?service_code=security", []),
    ],
)
def test_filters(api: TestClient, reports: Settings, query: str, expected: list[str]) -> None:
    assert _ids(_json(api, _dates(query))) == expected


def _dates(query: str) -> str:
    from open311.reports_support import NOW

    def ago(days: int) -> str:
        return (NOW - timedelta(days=days)).isoformat().replace("+00:00", "Z")

    return query.format(days_ago_5=ago(5), days_ago_100=ago(100), days_ago_150=ago(150))


@pytest.mark.parametrize(
    "query",
    [
        "?start_date=yesterday",
        "?start_date=2026-11-05",  # a date without a time
        "?end_date=2026-11-05T13:15:30",  # no timezone
        "?start_date=2026-13-05T13:15:30Z",
        "?start_date=2026-11-05T00:00:00Z&end_date=2026-11-01T00:00:00Z",
        "?start_date=2026-01-01T00:00:00Z&end_date=2026-11-01T00:00:00Z",  # over 90 days
        "?status=pending",
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_filters_answer_400(api: TestClient, query: str, fmt: str) -> None:
    response = api.get(f"{V2}/requests.{fmt}{query}")
    assert response.status_code == 400
    if fmt == "json":
        (error,) = response.json()
        check_json(error, ERROR_FIELDS)
        assert error["code"] == 400
    else:
        (error,) = parse_xml(response.content)
        assert check_xml(error, "error", ERROR_FIELDS)["code"] == "400"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_request_is_404(api: TestClient, fmt: str) -> None:
    response = api.get(f"{V2}/requests/R-0000.{fmt}")
    assert response.status_code == 404
    assert b"R-0000" in response.content


def test_the_reporter_never_appears(api: TestClient, reports: Settings) -> None:
    secret = pseudonym(PHONE, reports.secret_key)
    for path in ("requests.json", "requests.xml", "requests/R-AAAA.json", "requests/R-AAAA.xml"):
        body = api.get(f"{V2}/{path}").text
        assert "R-AAAA" in body
        for leak in (PHONE, PHONE[1:], "0711000089", "711000089", secret):
            assert leak not in body


def test_agency_is_the_department_else_the_council(
    open311_settings: Settings, redis_sync: redis.Redis
) -> None:
    settings = dataclasses.replace(
        open311_settings,
        reports=dataclasses.replace(open311_settings.reports, agency="Kisumu County"),
    )
    add_report(settings, "R-AAAA")
    add_report(settings, "R-BBBB", department="Water and Sanitation", age=timedelta(hours=2))
    with TestClient(create_app(settings)) as api:
        records = api.get(f"{V2}/requests.json").json()
    assert [r["agency_responsible"] for r in records] == ["Kisumu County", "Water and Sanitation"]


def test_a_likely_duplicate_says_so(api: TestClient, open311_settings: Settings) -> None:
    add_report(open311_settings, "R-AAAA", age=timedelta(hours=2))
    add_report(open311_settings, "R-BBBB", duplicate_of=_id(open311_settings, "R-AAAA"))
    (record,) = api.get(f"{V2}/requests/R-BBBB.json").json()
    assert record["service_notice"] == "Likely duplicate of R-AAAA"


def _id(settings: Settings, reference: str) -> int:
    from sqlmodel import Session, select

    from gateway.db import make_engine
    from gateway.models import Report

    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        found = session.exec(select(Report.id).where(Report.reference == reference)).one()
    engine.dispose()
    assert found is not None
    return found


def test_an_answer_holds_at_most_the_limit(api: TestClient, reports: Settings) -> None:
    from datetime import UTC, datetime

    from gateway.open311 import store
    from gateway.open311.queries import RequestQuery

    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    query = RequestQuery(start=now - timedelta(days=90), end=now, limit=2)
    assert _ids(store.request_records(runtime, query)) == ["R-AAAA", "R-BBBB"]
