"""The reports inbox as staff use it: filter and page the list, read one report (the citizen's
words escaped, its history, its duplicates), and, as an admin, move it along so the citizen is
texted; the CSV export. On a real database of each backend and a real Redis."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from rq import Queue

from staff.conftest import ADMIN
from staff.reports_pages_support import (
    NOW,
    PHONE,
    add_report,
    add_reporter,
    audit_entries,
    events,
    outbound,
    report,
)
from staff.staff_support import csrf_of, post_form

_LISTED = re.compile(r'<td><a href="/staff/reports/(R-[0-9A-Z]+)">')
HOSTILE = '<script>alert("x")</script>'


def listed(html: str) -> list[str]:
    """The references in the list's first column, top to bottom."""
    return _LISTED.findall(html)


def change(client, reference: str, **data: str):
    url = f"/staff/reports/{reference}"
    return post_form(client, url, f"{url}/status", data, follow_redirects=False)


@pytest.fixture
def four_reports(staff_settings) -> None:
    add_report(staff_settings, "R-0001", age=timedelta(hours=1))
    add_report(staff_settings, "R-0002", category="roads", ward_code="kisumu-east/kajulu",
               area_path="Kajulu, Kisumu East, Kisumu", status="acknowledged",
               age=timedelta(days=2))
    add_report(staff_settings, "R-0003", category="waste", ward_code="westlands/karura",
               area_path="Karura, Westlands, Nairobi", status="resolved", age=timedelta(days=5))
    add_report(staff_settings, "R-0004", ward_code="kisumu-central/railways",
               duplicate_of_reference="R-0003", age=timedelta(minutes=5))


# --- the list ------------------------------------------------------------------------------------


def test_the_list_shows_newest_first_with_names_places_and_links(analyst, four_reports):
    page = analyst.get("/staff/reports")
    assert page.status_code == 200
    assert listed(page.text) == ["R-0004", "R-0001", "R-0002", "R-0003"]
    assert "Karura, Westlands, Nairobi" in page.text and "Roads" in page.text
    assert "1 linked" in page.text  # R-0003 has R-0004 linked to it
    assert 'duplicate of <a href="/staff/reports/R-0003">' in page.text


def day(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).date().isoformat()


@pytest.mark.parametrize(("query", "expected"), [
    ("status=submitted", ["R-0004", "R-0001"]),
    ("status=resolved", ["R-0003"]),
    ("category=roads", ["R-0002"]),
    ("area=kisumu-central/railways", ["R-0004", "R-0001"]),
    ("area=kisumu-east", ["R-0002"]),
    ("area=kisumu", ["R-0004", "R-0001", "R-0002"]),  # a county: every sub-county's wards
    ("area=nairobi", ["R-0003"]),
    ("category=water&area=kisumu", ["R-0004", "R-0001"]),
    ("to=DAY3", ["R-0003"]),
    ("from=DAY3&to=DAY1", ["R-0002"]),
    ("from=DAY0", ["R-0004", "R-0001"]),
])
def test_filters_by_status_category_area_and_date(admin, four_reports, query, expected):
    query = re.sub(r"DAY(\d)", lambda m: day(int(m.group(1))), query)
    page = admin.get(f"/staff/reports?{query}")
    assert page.status_code == 200
    assert listed(page.text) == expected
    assert 'class="error"' not in page.text


@pytest.mark.parametrize(("query", "message"), [
    ("from=31/05/2024", "From: &#39;31/05/2024&#39; is not a date; use YYYY-MM-DD"),
    ("to=2024-02-30", "To: &#39;2024-02-30&#39; is not a date"),
    ("from=2024-06-01&to=2024-05-01", "The From date is after the To date"),
    ("area=atlantis", "&#39;atlantis&#39; is not a known area"),
    ("status=lost", "&#39;lost&#39; is not a status"),
])
def test_a_bad_filter_is_explained_and_left_out(analyst, four_reports, query, message):
    page = analyst.get(f"/staff/reports?{query}")
    assert page.status_code == 200
    assert message in page.text
    assert listed(page.text) == ["R-0004", "R-0001", "R-0002", "R-0003"]


def test_the_list_pages_by_fifty_with_newer_and_older_links(analyst, staff_settings):
    for n in range(1, 56):  # R-0001 oldest ... R-0055 newest
        add_report(staff_settings, f"R-{n:04d}", age=timedelta(minutes=100 - n))
    first = analyst.get("/staff/reports?status=submitted")
    assert listed(first.text) == [f"R-{n:04d}" for n in range(55, 5, -1)]
    assert "Newer</a>" not in first.text
    assert 'href="/staff/reports?status=submitted&amp;page=1" rel="next">Older' in first.text
    second = analyst.get("/staff/reports?status=submitted&page=1")
    assert listed(second.text) == ["R-0005", "R-0004", "R-0003", "R-0002", "R-0001"]
    assert 'href="/staff/reports?status=submitted" rel="prev">Newer' in second.text
    assert "Older</a>" not in second.text


# --- one report ----------------------------------------------------------------------------------


def test_hostile_citizen_text_is_shown_as_text(admin, staff_settings):
    add_report(staff_settings, "R-0001", description=HOSTILE, landmark="<b>behind</b> the mosque")
    for url in ("/staff/reports", "/staff/reports/R-0001"):
        page = admin.get(url)
        assert "<script>alert" not in page.text and "<b>behind" not in page.text
    detail = admin.get("/staff/reports/R-0001").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in detail
    assert "&lt;b&gt;behind&lt;/b&gt; the mosque" in detail


def test_a_report_shows_its_history_duplicates_and_no_phone_or_pseudonym(
        analyst, staff_settings, four_reports):
    reporter = add_reporter(staff_settings)
    page = analyst.get("/staff/reports/R-0003")
    assert page.status_code == 200
    text = page.text
    assert "The kiosk tap is broken" in text and "Waste" in text
    assert "Karura, Westlands, Nairobi" in text and "westlands/karura" in text
    assert '<a href="/staff/reports/R-0004">R-0004</a>' in text  # linked to it
    assert "citizen" in text and "Submitted" in text  # the filing event
    assert reporter not in text and PHONE not in text and PHONE[1:] not in text
    duplicate = analyst.get("/staff/reports/R-0004").text
    assert 'A likely duplicate of <a href="/staff/reports/R-0003">R-0003</a>' in duplicate


def test_an_unknown_reference_is_a_404_page(analyst, four_reports):
    for reference in ("R-ZZZZ", "nonsense"):
        page = analyst.get(f"/staff/reports/{reference}")
        assert page.status_code == 404
        assert f"No report has the reference {reference}." in page.text


# --- changing the status -------------------------------------------------------------------------


def test_an_admin_status_change_texts_the_citizen_in_their_language(
        admin, staff_settings, redis_sync):
    add_reporter(staff_settings, language="sw")
    add_report(staff_settings, "R-0001", language="sw")
    response = change(admin, "R-0001", status="in_progress", note="Fundi anakuja kesho.")
    assert response.status_code == 303
    page = admin.get(response.headers["location"])
    assert "Status changed to In progress. 1 citizen will be texted." in page.text

    assert report(staff_settings, "R-0001").status == "in_progress"
    assert events(staff_settings, "R-0001")[-1] == (
        "submitted", "in_progress", f"staff:{ADMIN}", "Fundi anakuja kesho.")
    [sms] = outbound(staff_settings)
    assert sms.text == "Ripoti R-0001: inashughulikiwa. Fundi anakuja kesho."
    assert sms.status == "queued" and sms.kind == "reply"
    assert f"sms-{sms.id}" in Queue("high", connection=redis_sync).job_ids
    actor, action, target, detail = audit_entries(staff_settings)[-1]
    assert (actor, action, target) == (ADMIN, "report_status", "report:R-0001")
    assert "submitted -> in_progress" in detail and "texted 1" in detail
    assert f"staff:{ADMIN}" in page.text and "Fundi anakuja kesho." in page.text  # history


def test_a_rejection_with_a_reason_tells_the_citizen_why(admin, staff_settings):
    add_reporter(staff_settings, language="en")
    add_report(staff_settings, "R-0001")
    response = change(admin, "R-0001", status="rejected", reason="Private land, not county.")
    assert response.status_code == 303
    assert report(staff_settings, "R-0001").rejection_reason == "Private land, not county."
    assert outbound(staff_settings)[0].text == "Report R-0001: rejected. Private land, not county."
    final = admin.get("/staff/reports/R-0001").text
    assert "its status cannot change any more" in final and 'name="status"' not in final


@pytest.mark.parametrize(("status", "data", "message"), [
    ("closed", {"status": "in_progress"}, "R-0001 is closed: it can become none, it is final"),
    ("resolved", {"status": "acknowledged"}, "is resolved: it can become closed, in_progress"),
    ("submitted", {"status": "rejected", "note": "no"}, "A rejected report needs a reason"),
    ("submitted", {"status": ""}, "Choose the new status."),
    ("submitted", {"status": "resolved", "note": "x" * 301}, "at most 300"),
])
def test_a_change_that_is_not_allowed_gets_a_400_and_changes_nothing(
        admin, staff_settings, status, data, message):
    add_reporter(staff_settings)
    add_report(staff_settings, "R-0001", status=status)
    before = events(staff_settings, "R-0001")
    response = change(admin, "R-0001", **data)
    assert response.status_code == 400
    assert message in response.text.replace("&#39;", "'")
    assert report(staff_settings, "R-0001").status == status
    assert events(staff_settings, "R-0001") == before
    assert outbound(staff_settings) == []
    assert [e for e in audit_entries(staff_settings) if e[1] == "report_status"] == []


def test_a_change_moves_the_linked_duplicates_too(admin, staff_settings, four_reports):
    add_reporter(staff_settings)
    response = change(admin, "R-0003", status="closed", note="Collected.")
    assert response.status_code == 303
    assert report(staff_settings, "R-0004").status == "closed"
    assert "1 citizen will be texted" in admin.get(response.headers["location"]).text


def test_an_analyst_sees_no_forms_and_cannot_post(analyst, staff_settings):
    add_report(staff_settings, "R-0001")
    page = analyst.get("/staff/reports/R-0001")
    assert "<form" not in page.text.split("</header>", 1)[1]
    token = csrf_of(page.text)  # the analyst's own (log-out form) token
    posts = (("status", {"status": "acknowledged"}), ("department", {"department": "Water"}))
    for action, data in posts:
        response = analyst.post(f"/staff/reports/R-0001/{action}",
                                data={"csrf_token": token, **data})
        assert response.status_code == 403
    assert report(staff_settings, "R-0001").status == "submitted"
    assert report(staff_settings, "R-0001").department is None


def test_a_post_without_the_csrf_token_is_refused(admin, staff_settings):
    add_report(staff_settings, "R-0001")
    response = admin.post("/staff/reports/R-0001/status", data={"status": "acknowledged"})
    assert response.status_code == 403
    assert report(staff_settings, "R-0001").status == "submitted"


# --- the department ------------------------------------------------------------------------------


def test_an_admin_assigns_a_department_and_it_is_audited(admin, staff_settings):
    add_report(staff_settings, "R-0001")
    url = "/staff/reports/R-0001"
    response = post_form(admin, url, f"{url}/department", {"department": "  Water  and sanitation"},
                         follow_redirects=False)
    assert response.status_code == 303
    assert "Department saved." in admin.get(response.headers["location"]).text
    assert report(staff_settings, "R-0001").department == "Water and sanitation"
    assert audit_entries(staff_settings)[-1][1:] == (
        "report_department", "report:R-0001", "department: - -> Water and sanitation")
    too_long = post_form(admin, url, f"{url}/department", {"department": "x" * 81})
    assert too_long.status_code == 400 and "at most 80 characters" in too_long.text
    assert report(staff_settings, "R-0001").department == "Water and sanitation"


# --- CSV -----------------------------------------------------------------------------------------


def test_the_csv_is_the_filtered_list_formula_safe_and_audited(analyst, staff_settings):
    reporter = add_reporter(staff_settings)
    add_report(staff_settings, "R-0001", description='=HYPERLINK("http://evil.example","win")')
    add_report(staff_settings, "R-0002", description="-1+2 litres", department="+254 Water",
               duplicate_of_reference="R-0001", age=timedelta(minutes=1))
    add_report(staff_settings, "R-0003", category="roads", age=timedelta(minutes=2))
    response = analyst.get("/staff/reports.csv?category=water")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert reporter not in response.text and PHONE not in response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["reference"] for row in rows] == ["R-0002", "R-0001"]
    assert rows[1]["description"] == '\'=HYPERLINK("http://evil.example","win")'
    assert rows[0]["description"] == "'-1+2 litres" and rows[0]["department"] == "'+254 Water"
    assert rows[0]["linked_to"] == "R-0001" and rows[0]["category"] == "Water"
    assert rows[1]["place"] == "Railways, Kisumu Central, Kisumu"
    assert rows[1]["ward_code"] == "kisumu-central/railways"
    actor, action, target, detail = audit_entries(staff_settings)[-1]
    assert (action, target) == ("export", "reports") and "2 rows" in detail
    assert "category=water" in detail and actor != ADMIN
