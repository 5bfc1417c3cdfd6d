"""GET services and services/{code}, in JSON and XML, against the spec's names and types."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from open311.spec_support import (
    ATTRIBUTE_FIELDS,
    CATEGORIES,
    ERROR_FIELDS,
    SERVICE_FIELDS,
    check_json,
    check_xml,
    parse_xml,
)

V2 = "/open311/v2"


def test_services_json_lists_the_report_categories(api: TestClient) -> None:
    response = api.get(f"{V2}/services.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    services = response.json()
    for service in services:
        check_json(service, SERVICE_FIELDS)
        assert service["type"] == "realtime"
    assert [s["service_code"] for s in services] == list(CATEGORIES)
    labels = _labels(api)
    assert [s["service_name"] for s in services] == [label["en"] for label in labels]
    water = services[0]
    assert water["metadata"] is True
    assert labels[0]["sw"] in water["keywords"]
    assert services[1]["metadata"] is False


def _labels(api: TestClient) -> list[dict[str, str]]:
    """The category labels of the report flow in use (the one source of service names)."""
    flow = api.app.state.runtime.flows["report"]  # type: ignore[attr-defined]
    return [dict(option.label) for option in flow.steps["category"].options]


def test_services_xml_uses_the_spec_elements(api: TestClient) -> None:
    response = api.get(f"{V2}/services.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    root = parse_xml(response.content)
    assert root.tag == "services"
    found = [check_xml(element, "service", SERVICE_FIELDS) for element in root]
    assert [service["service_code"] for service in found] == list(CATEGORIES)
    assert found[0]["metadata"] == "true"


def test_service_definition_json_has_the_water_attribute(api: TestClient) -> None:
    definition = api.get(f"{V2}/services/water.json").json()
    assert list(definition) == ["service_code", "attributes"]
    assert definition["service_code"] == "water"
    (attribute,) = definition["attributes"]
    check_json(attribute, ATTRIBUTE_FIELDS)
    assert attribute["code"] == "problem"
    assert attribute["datatype"] == "singlevaluelist"
    assert [v["key"] for v in attribute["values"]] == [
        "dry",
        "leaking",
        "contaminated",
        "broken_tap",
    ]
    for value in attribute["values"]:
        check_json(value, {"key": str, "name": str})


def test_service_definition_xml(api: TestClient) -> None:
    root = parse_xml(api.get(f"{V2}/services/water.xml").content)
    assert root.tag == "service_definition"
    assert [child.tag for child in root] == ["service_code", "attributes"]
    (attribute,) = root.find("attributes") or []
    texts = check_xml(attribute, "attribute", ATTRIBUTE_FIELDS)
    assert texts["code"] == "problem"
    values = attribute.find("values")
    assert values is not None
    assert [value.tag for value in values] == ["value"] * 4
    assert [[c.tag for c in value] for value in values] == [["key", "name"]] * 4


def test_a_service_without_attributes_has_an_empty_list(api: TestClient) -> None:
    assert api.get(f"{V2}/services/roads.json").json() == {
        "service_code": "roads",
        "attributes": [],
    }
    root = parse_xml(api.get(f"{V2}/services/roads.xml").content)
    assert root.find("attributes") is not None
    assert len(root.find("attributes") or []) == 0


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("services/nope.json", 404),
        ("services/nope.xml", 404),
        ("services.html", 404),
        ("services/water.yaml", 404),
    ],
)
def test_errors_use_the_spec_format(api: TestClient, path: str, status: int) -> None:
    response = api.get(f"{V2}/{path}")
    assert response.status_code == status
    if path.endswith(".xml"):
        root = parse_xml(response.content)
        assert root.tag == "errors"
        (error,) = root
        texts = check_xml(error, "error", ERROR_FIELDS)
        assert texts["code"] == str(status)
    else:
        (error,) = response.json()
        check_json(error, ERROR_FIELDS)
        assert error["code"] == status
