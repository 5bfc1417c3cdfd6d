"""The filters of `GET requests`, parsed and checked before the database is asked.

Per the spec: `service_request_id` (a comma list) overrides every other filter; `start_date` and
`end_date` are W3C/ISO 8601 date-times with a timezone and bound `requested_datetime`; `status` is
open or closed (a comma list of them works too). Without dates the window is the last 90 days,
a window may not span more than 90 days, and an answer holds at most 1000 requests, newest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.open311.errors import bad_request

WINDOW = timedelta(days=90)
LIMIT = 1000
MAX_IDS = 100
STATUSES = ("open", "closed")


@dataclass(frozen=True)
class RequestQuery:
    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()
    limit: int = LIMIT


def parse_query(params: Mapping[str, str], *, now: datetime) -> RequestQuery:
    ids = _comma_list(params.get("service_request_id", ""))
    if len(ids) > MAX_IDS:
        raise bad_request(f"service_request_id lists at most {MAX_IDS} ids")
    if ids:
        return RequestQuery(ids=tuple(ids))
    statuses = _comma_list(params.get("status", "").lower())
    if any(status not in STATUSES for status in statuses):
        raise bad_request("status must be open or closed")
    start, end = _window(params, now=now)
    return RequestQuery(
        service_codes=tuple(_comma_list(params.get("service_code", ""))),
        start=start,
        end=end,
        statuses=tuple(statuses),
    )


def _window(params: Mapping[str, str], *, now: datetime) -> tuple[datetime, datetime]:
    start = parse_datetime(params, "start_date")
    end = parse_datetime(params, "end_date")
    if start is None and end is None:
        return now - WINDOW, now
    if start is None:
        assert end is not None
        return _shifted(end, -WINDOW, "end_date"), end
    if end is None:
        return start, _shifted(start, WINDOW, "start_date")
    if start > end:
        raise bad_request("start_date is after end_date")
    if end - start > WINDOW:
        raise bad_request("start_date and end_date may not span more than 90 days")
    return start, end


def parse_datetime(params: Mapping[str, str], name: str) -> datetime | None:
    """A W3C date-time with a timezone, e.g. 2026-11-05T13:15:30Z or ...+03:00; else 400."""
    text = params.get(name, "").strip()
    if not text:
        return None
    example = f"{name} must be an ISO 8601 date-time with a timezone, e.g. 2026-11-05T13:15:30Z"
    if "T" not in text.upper():
        raise bad_request(example)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(example) from None
    if value.tzinfo is None:
        raise bad_request(example)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+03:00 is in year 0 in UTC
        raise bad_request(f"{name} is out of range") from None


def _shifted(moment: datetime, by: timedelta, name: str) -> datetime:
    """`moment + by`, or the spec's 400 when that leaves Python's years 1 to 9999."""
    try:
        return moment + by
    except OverflowError:
        raise bad_request(f"{name} is out of range") from None


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
