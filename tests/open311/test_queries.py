"""The filters of GET requests, parsed: the default window, the 90-day span, the id override."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.open311.errors import Open311Error
from gateway.open311.queries import LIMIT, WINDOW, parse_query

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_the_default_is_the_last_90_days_and_1000_requests() -> None:
    query = parse_query({}, now=NOW)
    assert (query.start, query.end, query.limit) == (NOW - WINDOW, NOW, LIMIT)
    assert LIMIT == 1000 and WINDOW == timedelta(days=90)


def test_ids_override_every_other_filter() -> None:
    query = parse_query({"service_request_id": "R-AAAA, R-BBBB,", "status": "x"}, now=NOW)
    assert query.ids == ("R-AAAA", "R-BBBB")
    assert query.start is None and query.statuses == ()


def test_dates_take_any_timezone() -> None:
    query = parse_query(
        {"start_date": "2026-11-01T03:00:00+03:00", "end_date": "2026-11-05T13:15:30Z"}, now=NOW
    )
    assert query.start == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert query.end == datetime(2026, 11, 5, 13, 15, 30, tzinfo=UTC)


def test_one_date_opens_a_90_day_window() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    query = parse_query({"start_date": "2026-01-01T00:00:00Z"}, now=NOW)
    assert (query.start, query.end) == (start, start + WINDOW)
    query = parse_query({"end_date": "2026-01-01T00:00:00Z"}, now=NOW)
    assert (query.start, query.end) == (start - WINDOW, start)


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "2026-11-05"},
        {"start_date": "2026-11-05T13:15:30"},
        {"end_date": "5 Nov 2026"},
        {"start_date": "2026-11-06T00:00:00Z", "end_date": "2026-11-05T00:00:00Z"},
        {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
        {"status": "pending"},
        {"service_request_id": ",".join(f"R-{n:04d}" for n in range(101))},
    ],
)
def test_bad_filters_are_400(params: dict[str, str]) -> None:
    with pytest.raises(Open311Error) as raised:
        parse_query(params, now=NOW)
    assert raised.value.status == 400
