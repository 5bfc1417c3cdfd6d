"""A report as an Open311 service request: the spec's fields, and nothing about the reporter.

The record is built from an explicit list of fields, so the reporter's number, pseudonym, channel
or contact details cannot leak into an answer by a new column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.areas import AreaTree

OPEN_STATUSES = frozenset({"submitted", "acknowledged", "in_progress"})
CLOSED_STATUSES = frozenset({"resolved", "closed", "rejected"})


@dataclass(frozen=True)
class Context:
    """What a record needs besides the report: names, the area tree, the agency."""

    service_names: dict[str, str]
    tree: AreaTree
    agency: str


def open_or_closed(status: str) -> str:
    return "closed" if status in CLOSED_STATUSES else "open"


def request_record(report: Any, *, notes: str, notice: str, context: Context) -> dict[str, Any]:
    lat, long = _point(report, context.tree)
    return {
        "service_request_id": report.reference,
        "status": open_or_closed(report.status),
        "status_notes": notes,
        "service_name": context.service_names.get(report.category, report.category),
        "service_code": report.category,
        "description": report.description or "",
        "agency_responsible": report.department or context.agency,
        "service_notice": notice,
        "requested_datetime": w3c(report.created_at),
        "updated_datetime": w3c(report.updated_at or report.created_at),
        "expected_datetime": "",
        "address": _address(report, context.tree),
        "address_id": report.ward_code or "",
        "lat": lat,
        "long": long,
        "media_url": "",
    }


def w3c(moment: datetime | None) -> str:
    """2026-11-05T13:15:30Z: the spec's date-time, always with its timezone."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _address(report: Any, tree: AreaTree) -> str:
    if report.ward_code and report.ward_code in tree:
        return tree.address(report.ward_code)
    return getattr(report, "area_path", None) or ""


def _point(report: Any, tree: AreaTree) -> tuple[float | str, float | str]:
    if report.lat is not None and report.long is not None:
        return report.lat, report.long
    if report.ward_code and report.ward_code in tree:
        point = tree.centroid(report.ward_code)
        if point is not None:
            return point
    return "", ""
