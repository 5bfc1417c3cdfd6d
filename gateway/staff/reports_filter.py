"""The reports inbox's filters, read from the query string (a GET form, so a filtered list can be
bookmarked and exported): status, category, area, received from/to, and the page.

Bad input never fails the page: the bad filter is left out and `problems` says why, in words
staff can act on ("2024-13-01 is not a date: use YYYY-MM-DD").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, or_
from sqlmodel import col

from gateway.areas import Area, AreaTree
from gateway.models import Report
from gateway.reports import STATUSES

PAGE_SIZE = 50
MAX_PAGE = 99_999
TEXT_LIMIT = 80  # a category or area code longer than this is not one
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # what <input type="date"> sends


@dataclass(frozen=True)
class ReportFilter:
    """What the staff asked for; `values` re-fills the form exactly as typed."""

    status: str = ""
    category: str = ""
    area: str = ""
    received_from: date | None = None
    received_to: date | None = None
    page: int = 0
    values: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def query(self, page: int | None = None) -> str:
        """The query string of this filter (for Newer/Older and the CSV link), "" if none."""
        params = {k: v for k, v in self.values.items() if v}
        if page:
            params["page"] = str(page)
        return urlencode(params)

    def describe(self) -> str:
        """A short summary for the audit log: "status=resolved area=kisumu-central"."""
        return " ".join(f"{k}={v}" for k, v in self.values.items() if v) or "no filter"


def parse(params: Mapping[str, str], areas: AreaTree | None) -> ReportFilter:
    """The filter of a query string such as `?status=submitted&area=kisumu&from=2024-05-01`."""
    values = {name: (params.get(name) or "").strip()[:TEXT_LIMIT]
              for name in ("status", "category", "area", "from", "to")}
    problems: list[str] = []
    status = values["status"]
    if status and status not in STATUSES:
        problems.append(f"{status!r} is not a status: showing every status.")
        status = ""
    area = values["area"]
    if area and areas is not None and area not in areas:
        problems.append(f"{area!r} is not a known area: showing every area.")
        area = ""
    received_from = _date(values["from"], "From", problems)
    received_to = _date(values["to"], "To", problems)
    if received_from and received_to and received_from > received_to:
        problems.append("The From date is after the To date: showing every date.")
        received_from = received_to = None
    return ReportFilter(status=status, category=values["category"], area=area,
                        received_from=received_from, received_to=received_to,
                        page=_page(params.get("page")), values=values, problems=tuple(problems))


def conditions(wanted: ReportFilter, areas: AreaTree | None) -> list[ColumnElement[bool]]:
    """The SQL conditions of a filter, for the list and the CSV alike."""
    found: list[ColumnElement[bool]] = []
    if wanted.status:
        found.append(col(Report.status) == wanted.status)
    if wanted.category:
        found.append(col(Report.category) == wanted.category)
    if wanted.area:
        found.append(_in_area(wanted.area, areas))
    if wanted.received_from:
        found.append(col(Report.created_at) >= _midnight(wanted.received_from))
    if wanted.received_to:  # the whole "to" day is included
        found.append(col(Report.created_at) < _midnight(wanted.received_to + timedelta(days=1)))
    return found


def area_options(areas: AreaTree | None) -> list[dict[str, Any]]:
    """The area select, one group per county: the county, its sub-counties, their wards."""
    if areas is None:
        return []
    groups = []
    for region in areas.regions():
        options = [(region.code, f"All of {region.name}")]
        for district in areas.children(region.code):
            options.append((district.code, district.name))
            options.extend((ward.code, f"{district.name} › {ward.name}")
                           for ward in areas.children(district.code))
        groups.append({"label": region.name, "options": options})
    return groups


def _in_area(code: str, areas: AreaTree | None) -> ColumnElement[bool]:
    """Reports in `code` or below. Ward codes start with their sub-county's code
    ("kisumu-central/railways"), but not with their county's, so a county expands to its
    sub-counties; a ward no longer in the file still matches its sub-county by prefix."""
    ward = col(Report.ward_code)
    if areas is None:
        return or_(ward == code, ward.startswith(f"{code}/", autoescape=True))
    below = _subtree(areas, code)
    districts = [area.code for area in below if area.level == "district"]
    return or_(ward.in_([area.code for area in below]),
               *(ward.startswith(f"{d}/", autoescape=True) for d in districts))


def _subtree(areas: AreaTree, code: str) -> list[Area]:
    found = [areas.get(code)]
    for child in areas.children(code):
        found.extend(_subtree(areas, child.code))
    return found


def _date(text: str, name: str, problems: list[str]) -> date | None:
    if not text:
        return None
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    problems.append(f"{name}: {text!r} is not a date; use YYYY-MM-DD, e.g. 2024-05-31.")
    return None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _page(text: str | None) -> int:
    return min(int(text), MAX_PAGE) if text and text.isdigit() and len(text) < 8 else 0
