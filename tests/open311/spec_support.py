"""The GeoReport v2 spec's field names and types, and checks that an answer has exactly them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

# The report flow's category codes and their names in each shipped language (flows/report.toml).
CATEGORIES = {
    "water": ("Water", "Maji", "Eau"),
    "roads": ("Roads", "Barabara", "Routes"),
    "waste": ("Waste", "Taka", "Déchets"),
    "street_lights": ("Street lights", "Taa za barabarani", "Éclairage public"),
    "health_facility": ("Health facility", "Kituo cha afya", "Centre de santé"),
    "security": ("Security", "Usalama", "Sécurité"),
    "other": ("Other", "Nyingine", "Autre"),
}

SERVICE_FIELDS = {
    "service_code": str,
    "service_name": str,
    "description": str,
    "metadata": bool,
    "type": str,
    "keywords": str,
    "group": str,
}
ATTRIBUTE_FIELDS = {
    "variable": bool,
    "code": str,
    "datatype": str,
    "required": bool,
    "datatype_description": str,
    "order": int,
    "description": str,
    "values": list,
}
REQUEST_FIELDS = {
    "service_request_id": str,
    "status": str,
    "status_notes": str,
    "service_name": str,
    "service_code": str,
    "description": str,
    "agency_responsible": str,
    "service_notice": str,
    "requested_datetime": str,
    "updated_datetime": str,
    "expected_datetime": str,
    "address": str,
    "address_id": str,
    "lat": float,
    "long": float,
    "media_url": str,
}
CREATED_FIELDS = {"service_request_id": str, "service_notice": str, "account_id": str}
ERROR_FIELDS = {"code": int, "description": str}


def check_json(record: dict[str, Any], fields: dict[str, type]) -> None:
    assert list(record) == list(fields)
    for name, kind in fields.items():
        assert isinstance(record[name], kind), (name, record[name])


def parse_xml(body: bytes) -> ET.Element:
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(body)


def check_xml(element: ET.Element, tag: str, fields: dict[str, type]) -> dict[str, str]:
    """The element's children are exactly the spec's fields, each text parsing as its type."""
    assert element.tag == tag
    assert [child.tag for child in element] == list(fields)
    texts: dict[str, str] = {}
    for child in element:
        text = child.text or ""
        texts[child.tag] = text
        kind = fields[child.tag]
        if kind is bool:
            assert text in ("true", "false"), (child.tag, text)
        elif kind in (int, float) and text:
            kind(text)
    return texts
