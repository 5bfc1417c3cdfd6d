"""Rendering Open311 answers as JSON or XML with the spec's element names.

An answer is a list of records (dicts). In XML the list is the root element (`services`,
`service_requests`, `errors`) and each record one child (`service`, `request`, `error`); a list
value becomes an element holding one child per item (`attributes/attribute`, `values/value`).
ElementTree escapes every text, so report descriptions cannot break the document.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

from gateway.open311.errors import Open311Error

FORMATS = ("json", "xml")
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# The element name of each item of a list value, by the list's name.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "service_request_updates": "request_update",
    "attributes": "attribute",
    "values": "value",
}

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# Characters XML 1.0 cannot hold even escaped (control characters other than tab, LF, CR).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

Record = Mapping[str, Any]


def render(fmt: str, root: str, records: Sequence[Record], *, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(xml_document(root, records), status, media_type=MEDIA_TYPES["xml"])
    body = json.dumps(list(records), ensure_ascii=False)
    return Response(body.encode(), status, media_type=MEDIA_TYPES["json"])


def render_one(fmt: str, root: str, record: Record) -> Response:
    """A single object (a service definition): a JSON object, an XML root with its fields."""
    if fmt == "xml":
        element = ET.Element(root)
        _fill(element, record)
        return Response(_serialise(element), media_type=MEDIA_TYPES["xml"])
    body = json.dumps(dict(record), ensure_ascii=False)
    return Response(body.encode(), media_type=MEDIA_TYPES["json"])


def render_error(fmt: str, error: Open311Error) -> Response:
    record = {"code": error.status, "description": error.description}
    return render(fmt if fmt in FORMATS else "json", "errors", [record], status=error.status)


def xml_document(root: str, records: Sequence[Record]) -> bytes:
    element = ET.Element(root)
    for record in records:
        _fill(ET.SubElement(element, ITEM_NAMES[root]), record)
    return _serialise(element)


def _fill(element: ET.Element, record: Record) -> None:
    for name, value in record.items():
        child = ET.SubElement(element, name)
        if isinstance(value, list):
            for item in value:
                _fill(ET.SubElement(child, ITEM_NAMES[name]), item)
        else:
            child.text = _text(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _serialise(element: ET.Element) -> bytes:
    return XML_DECLARATION + ET.tostring(element, encoding="unicode").encode()
