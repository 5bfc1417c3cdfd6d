"""Results exports: CSV (one row per run, pseudonymised, formula-safe) and the FLOIP Flow
Results package; both roles may export, and every export is audited."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from sqlmodel import Session, select

from gateway.db import make_engine
from gateway.models import AuditEntry
from staff.conftest import ADMIN, ANALYST
from staff.results_support import run, save, vote

NASTY = ["=HYPERLINK(\"http://evil\",\"x\")", "+254712345678", "-1+2", "@SUM(A1)", "\tTAB",
         "\rCR", "plain words"]


def exports_audited(settings) -> list[tuple[str, str, str]]:
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        rows = [(e.actor, e.target, e.detail) for e in session.exec(
            select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id))]
    engine.dispose()
    return rows


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_the_csv_has_one_row_per_run_pseudonymised_and_formula_safe(role, request,
                                                                   staff_settings):
    client = request.getfixturevalue(role)
    runs = [vote("drainage", "kondele", comment=text, minute=i) for i, text in enumerate(NASTY)]
    runs.append(run("budget", status="incomplete", last_step="age", priority="drainage",
                    minute=50))
    runs.append(vote("drainage", "kondele", comment="simulated", simulated=True))
    save(staff_settings.database_url, runs)

    response = client.get("/staff/polls/budget/results.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="budget-results.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(NASTY) + 1  # the simulated run is left out
    assert list(rows[0])[:9] == ["run_id", "contact", "channel", "language", "status",
                                 "last_step", "started_at", "ended_at", "simulated"]
    assert list(rows[0])[9:] == ["priority", "age", "ward", "comment", "confirm"]
    comments = dict(zip(NASTY, (row["comment"] for row in rows), strict=False))
    for text in ("=HYPERLINK(\"http://evil\",\"x\")", "-1+2", "@SUM(A1)", "\tTAB", "\rCR"):
        assert comments[text] == "'" + text  # a spreadsheet shows it, never runs it
    assert comments["+254712345678"].removeprefix("'") == "+254712345678"  # not mangled
    assert comments["plain words"] == "plain words"
    assert {row["contact"] for row in rows} == {r.contact_pseudonym for r in runs[:-1]}
    assert rows[-1]["status"] == "incomplete" and rows[-1]["comment"] == ""
    actor = {"admin": ADMIN, "analyst": ANALYST}[role]
    assert exports_audited(staff_settings) == [(actor, "flow:budget", "results.csv, 8 runs")]


def test_exports_need_a_login_and_a_known_poll(web, analyst):
    assert web.get("/staff/polls/budget/results.csv", follow_redirects=False).status_code == 303
    assert analyst.get("/staff/polls/nope/results.csv").status_code == 404
    assert analyst.get("/staff/polls/report/results.floip.json").status_code == 404


def test_the_floip_package_describes_the_questions_and_every_response(analyst,
                                                                      staff_settings):
    runs = [run("survey", visited="yes", service="water", rating=2, problem="long_wait",
                recommend="no", language="sw", minute=1),
            run("survey", visited="no", why_not="too_far", last_step="thanks_not", minute=2),
            run("survey", status="incomplete", last_step="rating", visited="yes",
                service="health", minute=3)]
    save(staff_settings.database_url, runs)

    response = analyst.get("/staff/polls/survey/results.floip.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    package = response.json()
    assert package["profile"] == "flow-results-package"
    assert package["flow_results_specification_version"] == "1.0.0-rc1"
    assert uuid.UUID(package["id"]).version == 4
    assert package["name"] == "survey" and package["title"] == "County service survey"
    assert package["created"] == "2025-03-01T08:00:00+00:00"
    assert package["modified"] == "2025-03-01T08:03:00+00:00"
    assert len(package["resources"]) == 1
    resource = package["resources"][0]
    schema = resource["schema"]
    assert [f["name"] for f in schema["fields"]] == [
        "timestamp", "row_id", "contact_id", "session_id", "question_id", "response",
        "response_metadata"]
    assert schema["language"] == "eng"
    questions = schema["questions"]
    assert list(questions) == ["visited", "service", "rating", "problem", "recommend",
                               "why_not"]
    assert questions["visited"] == {
        "type": "select_one", "label": questions["visited"]["label"],
        "type_options": {"choices": ["yes", "no"]}}
    assert questions["service"]["type_options"]["choices"] == [
        "health", "water", "permits", "land", "other"]
    assert questions["rating"]["type"] == "numeric"
    assert questions["rating"]["type_options"] == {"range": [1, 5]}
    assert questions["rating"]["label"].startswith("How was the service?")

    data = resource["data"]
    assert all(len(row) == 7 for row in data)
    assert len({row[1] for row in data}) == len(data) == 5 + 2 + 2
    first = [row for row in data if row[3] == runs[0].id]
    assert [row[4] for row in first] == ["visited", "service", "rating", "problem", "recommend"]
    assert first[2] == ["2025-03-01T08:01:00+00:00", f"{runs[0].id}:rating",
                        runs[0].contact_pseudonym, runs[0].id, "rating", 2, {}]
    assert json.loads(json.dumps(data))  # plain JSON all the way down
    assert exports_audited(staff_settings) == [
        ("abe@county.go.ke", "flow:survey", "results.floip.json, 3 runs")]
    assert analyst.get("/staff/polls/survey/results.floip.json").json()["id"] == package["id"]


def test_a_floip_text_answer_carries_its_language(analyst, staff_settings):
    save(staff_settings.database_url, [vote("drainage", "migosi", comment="Asante sana",
                                            language="sw")])
    package = analyst.get("/staff/polls/budget/results.floip.json").json()
    resource = package["resources"][0]
    assert resource["schema"]["questions"]["comment"]["type"] == "text"
    comment = next(row for row in resource["data"] if row[4] == "comment")
    assert (comment[5], comment[6]) == ("Asante sana", {"language": "swa"})
