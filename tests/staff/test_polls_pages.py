"""The poll list, a poll's results page (charts, breakdowns, funnel, comments, live fragment)
and the public results page, as staff and the public see them."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from gateway.db import make_engine
from gateway.models import AuditEntry, Poll
from staff.results_support import run, save, vote
from staff.staff_support import csrf_of, post_form


def audit_actions(settings) -> list[tuple[str, str, str, str]]:
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        rows = [(e.actor, e.action, e.target, e.detail)
                for e in session.exec(select(AuditEntry).order_by(AuditEntry.id))]
    engine.dispose()
    return rows


def poll_row(settings, flow: str) -> Poll | None:
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        row = session.get(Poll, flow)
    engine.dispose()
    return row


def row_of(html: str, label: str, caption: str) -> str:
    """The table row headed `label` in the first table captioned `caption`."""
    table = html[html.index(f"<caption>{caption}</caption>"):]
    table = table[:table.index("</table>")]
    found = re.search(rf'<tr><th scope="row">{re.escape(label)}</th>.*?</tr>', table, re.S)
    assert found, f"no row {label!r} under {caption!r}"
    return found.group(0)


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert found, f"no element #{element_id}"
    return found.group(1)


@pytest.fixture
def ward_votes(staff_settings) -> None:
    """25 votes: Railways 6 water kiosks + 5 drainage, Migosi 5 + 6, Kondele 3 drainage."""
    runs = [vote("water_kiosks", "railways") for _ in range(6)]
    runs += [vote("drainage", "railways") for _ in range(5)]
    runs += [vote("water_kiosks", "migosi") for _ in range(5)]
    runs += [vote("drainage", "migosi") for _ in range(6)]
    runs += [vote("drainage", "kondele", channel="sms") for _ in range(3)]
    runs += [run("budget", status="incomplete", last_step="ward", priority="drainage",
                 age="18_24")]
    runs += [vote("street_lights", "kondele", simulated=True) for _ in range(7)]  # not counted
    save(staff_settings.database_url, runs)


def test_the_poll_list_shows_status_responses_and_completion(analyst, ward_votes):
    page = analyst.get("/staff/polls")
    assert page.status_code == 200
    assert text_of(page.text, "status-budget") == "draft"
    assert text_of(page.text, "responses-budget") == "25"
    assert text_of(page.text, "started-budget") == "26"
    assert text_of(page.text, "completion-budget") == "96%"
    assert text_of(page.text, "responses-survey") == "0"
    assert "poll-report" not in page.text  # citizen reports have their own inbox
    assert "Set status" not in page.text and "Make public" not in page.text  # analyst


def test_an_admin_sets_the_status_and_it_is_audited(admin, staff_settings):
    response = post_form(admin, "/staff/polls", "/staff/polls/budget/status",
                         {"status": "live"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/staff/polls")
    assert text_of(admin.get("/staff/polls").text, "status-budget") == "live"
    assert ("ann@county.go.ke", "poll_status", "flow:budget", "draft -> live") in audit_actions(
        staff_settings)
    bad = post_form(admin, "/staff/polls", "/staff/polls/budget/status", {"status": "open"})
    assert bad.status_code == 400 and "Pick draft, live or closed." in bad.text
    assert post_form(admin, "/staff/polls", "/staff/polls/nope/status",
                     {"status": "live"}).status_code == 404


def test_an_analyst_cannot_change_status_or_visibility(analyst, staff_settings):
    for action, data in (("status", {"status": "live"}), ("public", {"public": "1"})):
        response = post_form(analyst, "/staff/polls", f"/staff/polls/budget/{action}", data)
        assert response.status_code == 403
    assert poll_row(staff_settings, "budget") is None


def test_a_status_form_without_the_csrf_token_changes_nothing(admin, staff_settings):
    response = admin.post("/staff/polls/budget/status", data={"status": "closed"})
    assert response.status_code == 403
    forged = admin.post("/staff/polls/budget/public", data={"public": "1", "csrf_token": "x"})
    assert forged.status_code == 403
    assert poll_row(staff_settings, "budget") is None


def test_results_show_a_chart_per_question_with_the_numbers_as_text(analyst, ward_votes):
    page = analyst.get("/staff/polls/budget")
    assert page.status_code == 200
    html = page.text
    assert text_of(html, "responses") == "25" and text_of(html, "started") == "26"
    assert text_of(html, "total-priority") == "25"
    assert text_of(html, "chart-priority-water_kiosks") == "11 (44%)"
    assert text_of(html, "chart-priority-drainage") == "14 (56%)"
    assert '<title id="chart-priority-title">Which project should your ward fund first?</title>' \
        in html
    assert text_of(html, "total-ward") == "25" and text_of(html, "total-age") == "25"
    assert 'data-refresh-seconds="5"' in html
    assert '<script src="/staff/static/live.js" defer></script>' in html
    assert analyst.get("/staff/static/live.js").status_code == 200


def test_a_three_person_ward_shows_fewer_than_5_in_every_breakdown(analyst, ward_votes):
    html = analyst.get("/staff/polls/budget").text
    priority = html[html.index('id="q-priority"'):html.index('id="q-age"')]
    kondele = row_of(priority, "Kondele", "By ward")
    assert "fewer than 5" in kondele
    assert not re.search(r"<td>\d+</td>", kondele)  # not one number in the small ward's row
    railways = row_of(priority, "Railways", "By ward")
    assert "<td>6</td>" in railways
    # the SMS channel holds the same 3 people; with two channels, USSD's 22 would be 25 - 3
    for channel in ("SMS", "USSD"):
        assert not re.search(r"<td>\d+</td>", row_of(priority, channel, "By channel"))


def test_the_funnel_shows_who_reached_each_step_and_who_left(analyst, ward_votes):
    html = analyst.get("/staff/polls/budget").text
    ward = re.search(r'<tr id="funnel-ward">.*?</tr>', html, re.S).group(0)
    assert re.findall(r"<td>([^<]*)</td>", ward) == ["26", "1", "100%"]
    confirm = re.search(r'<tr id="funnel-confirm">.*?</tr>', html, re.S).group(0)
    assert re.findall(r"<td>([^<]*)</td>", confirm) == ["25", "0", "96%"]
    assert text_of(html, "chart-funnel-comment") == "25 (96%)"


def test_the_funnel_names_each_step_by_its_question(analyst, ward_votes):
    html = analyst.get("/staff/polls/budget").text
    funnel = html[html.index('<section class="funnel"'):]
    funnel = funnel[:funnel.index("</section>")]
    heads = re.findall(r'<tr id="funnel-[a-z_]+"><th scope="row">(.*?)</th>', funnel, re.S)
    assert heads == [
        'Choose a language <span class="muted">(language)</span>',
        'Which project should your ward fund first? <span class="muted">(priority)</span>',
        'How old are you? <span class="muted">(age)</span>',
        'Which ward do you live in? <span class="muted">(ward)</span>',
        'Any comment for the county? <span class="muted">(comment)</span>',
        'Send your vote? <span class="muted">(confirm)</span>',
        "Completed",
    ]
    chart = re.search(r'<desc id="chart-funnel-desc">([^<]*)</desc>', funnel).group(1)
    assert chart.startswith("Choose a language: 26 (100%). Which project should")
    assert "Send your vote?: 25 (96%)" in chart
    assert "…." not in html and "{priority}" not in html


def test_the_fragment_is_the_live_section_and_follows_new_answers(analyst, staff_settings,
                                                                   ward_votes):
    first = analyst.get("/staff/polls/budget?fragment=1")
    assert first.status_code == 200
    assert "<html" not in first.text and 'id="comments"' not in first.text
    assert text_of(first.text, "total-priority") == "25"
    save(staff_settings.database_url, [vote("drainage", "migosi")])
    again = analyst.get("/staff/polls/budget?fragment=1")
    assert text_of(again.text, "total-priority") == "26"
    assert text_of(again.text, "chart-priority-drainage") == "15 (58%)"


def test_an_unknown_or_report_flow_has_no_results_page(analyst):
    assert analyst.get("/staff/polls/nope").status_code == 404
    assert analyst.get("/staff/polls/report").status_code == 404


def test_results_need_a_login(web):
    response = web.get("/staff/polls/budget", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/staff/login?next=")


def test_comments_are_paged_twenty_at_a_time_and_escaped(analyst, staff_settings):
    runs = [vote("drainage", "migosi", comment=f"comment number {n}", minute=n)
            for n in range(24)]
    runs.append(vote("drainage", "migosi", comment="<script>alert(1)</script> & more",
                     minute=100))
    runs.append(run("budget", status="incomplete", last_step="confirm", comment="unsent"))
    save(staff_settings.database_url, runs)
    first = analyst.get("/staff/polls/budget").text
    comments = first[first.index('id="comments"'):]
    assert comments.count('<p class="comment-text">') == 20
    assert "25 comments, newest first." in comments
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in comments
    assert "<script>alert" not in first
    assert "unsent" not in first  # an unfinished run did not send its comment
    assert '<a href="?page=1#comments">Older comments</a>' in comments
    second = analyst.get("/staff/polls/budget?page=1").text
    older = second[second.index('id="comments"'):]
    assert older.count('<p class="comment-text">') == 5
    assert "comment number 0<" in older and "Older comments" not in older


def test_the_public_page_is_404_until_an_admin_makes_it_public(web, admin, staff_settings,
                                                                ward_votes):
    save(staff_settings.database_url, [vote("drainage", "migosi", comment="call me 0712")])
    assert web.get("/public/polls/budget").status_code == 404
    assert web.get("/public/polls/nope").status_code == 404
    made = post_form(admin, "/staff/polls", "/staff/polls/budget/public", {"public": "1"},
                     follow_redirects=False)
    assert made.status_code == 303
    assert ("ann@county.go.ke", "poll_public", "flow:budget", "results made public") in \
        audit_actions(staff_settings)

    page = web.get("/public/polls/budget")
    assert page.status_code == 200
    html = page.text
    assert text_of(html, "responses") == "26"
    assert text_of(html, "chart-priority-drainage") == "15 (58%)"
    assert text_of(html, "chart-ward-kondele") == "fewer than 5"  # 3 people
    assert "3 (12%)" not in html and "(12%)" not in html
    assert "call me" not in html and "c-0" not in html and "run-" not in html
    assert "Log out" not in html and "<table" not in html  # charts only, no breakdown cells
    assert len(page.content) < 40_000
    assert page.headers["content-security-policy"].startswith("default-src 'self'")

    listing = admin.get("/staff/polls").text
    assert 'href="/public/polls/budget"' in listing
    post_form(admin, "/staff/polls", "/staff/polls/budget/public", {"public": "0"})
    assert web.get("/public/polls/budget").status_code == 404


def test_the_public_page_hides_a_small_poll_entirely(web, admin, staff_settings):
    save(staff_settings.database_url, [vote("drainage", "kondele") for _ in range(3)])
    post_form(admin, "/staff/polls", "/staff/polls/budget/public", {"public": "1"})
    html = web.get("/public/polls/budget").text
    assert text_of(html, "responses") == "fewer than 5"
    assert text_of(html, "total-priority") == "fewer than 5"
    assert not re.search(r'class="figure"[^>]*>\d', html)  # no count drawn anywhere


def test_the_admin_list_carries_one_csrf_token_for_every_form(admin):
    html = admin.get("/staff/polls").text
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', html))
    assert tokens == {csrf_of(html)}
    assert html.count('<button type="submit">Set status</button>') == 2  # budget, survey
    assert html.count(">Make public</button>") == 2
