"""The Open311 services: the report flow's categories, one service per option.

The report flow (flows/report.toml) is the one source of truth: its `category` step's option
values are the service codes and their labels the service names. A category that asks more than
its description has attributes here (`ATTRIBUTES`), which POST requests accept as
`attribute[<code>]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.flows.model import Flow, Option, localise
from gateway.open311.errors import Open311Error

REPORT_FLOW = "report"
CATEGORY_STEP = "category"


@dataclass(frozen=True)
class Value:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    code: str
    description: str
    values: tuple[Value, ...]
    datatype: str = "singlevaluelist"
    required: bool = False
    order: int = 1
    datatype_description: str = ""


ATTRIBUTES: Mapping[str, tuple[Attribute, ...]] = {
    "water": (
        Attribute(
            code="problem",
            description="What is wrong with the water point?",
            values=(
                Value("dry", "Dry, no water"),
                Value("leaking", "Leaking"),
                Value("contaminated", "Dirty or contaminated water"),
                Value("broken_tap", "Broken tap"),
            ),
            datatype_description="One of: dry, leaking, contaminated, broken_tap",
        ),
    ),
}


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    keywords: tuple[str, ...]

    @property
    def attributes(self) -> tuple[Attribute, ...]:
        return ATTRIBUTES.get(self.code, ())


def services(flows: Mapping[str, Flow]) -> list[Service]:
    flow = flows.get(REPORT_FLOW)
    step = flow.steps.get(CATEGORY_STEP) if flow else None
    if flow is None or step is None:
        return []
    return [_service(option, flow.default_language) for option in step.options]


def find_service(flows: Mapping[str, Flow], code: str, *, missing: int = 404) -> Service:
    """The service `code`; else an Open311Error with status `missing` (404 GET, 400 POST)."""
    for service in services(flows):
        if service.code == code:
            return service
    raise Open311Error(missing, f"unknown service_code {code!r}")


def _service(option: Option, language: str) -> Service:
    name = localise(option.label, language, language)
    others = tuple(dict.fromkeys(v for v in option.label.values() if v != name))
    return Service(code=option.value, name=name, keywords=others)


def service_record(service: Service) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.name,
        "metadata": bool(service.attributes),
        "type": "realtime",
        "keywords": ", ".join(service.keywords),
        "group": "citizen reports",
    }


def definition_record(service: Service) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "attributes": [_attribute_record(attribute) for attribute in service.attributes],
    }


def _attribute_record(attribute: Attribute) -> dict[str, Any]:
    return {
        "variable": True,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "datatype_description": attribute.datatype_description,
        "order": attribute.order,
        "description": attribute.description,
        "values": [{"key": value.key, "name": value.name} for value in attribute.values],
    }


def attribute_answers(service: Service, form: Mapping[str, str]) -> dict[str, str]:
    """The `attribute[code]` values of a POST, checked against the service's definition."""
    answers: dict[str, str] = {}
    for attribute in service.attributes:
        value = form.get(f"attribute[{attribute.code}]", "").strip()
        keys = [v.key for v in attribute.values]
        if value and value not in keys:
            raise Open311Error(
                400, f"attribute[{attribute.code}] must be one of: {', '.join(keys)}"
            )
        if not value and attribute.required:
            raise Open311Error(400, f"attribute[{attribute.code}] is required")
        if value:
            answers[attribute.code] = value
    return answers
