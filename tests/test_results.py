"""`gateway results FLOW`: what an analyst gets, and what a spreadsheet would do with it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from sqlmodel import Session
from ussd_support import Citizen

from gateway.models import FlowRun
from gateway.results import formula_safe, main
from gateway.runs import drain_outbox

CONTACT = "0123456789abcdef" * 2


def add_runs(db_engine, *runs: FlowRun) -> None:
    with Session(db_engine) as session:
        session.add_all(runs)
        session.commit()


def run(run_id: str, minute: int, answers: dict, **fields) -> FlowRun:
    values = {
        "id": run_id, "flow": "budget", "contact_pseudonym": CONTACT, "channel": "ussd",
        "language": "sw", "status": "completed", "last_step": "thanks", "answers": answers,
        "hops": 7, "started_at": datetime(2025, 3, 1, 9, minute, tzinfo=UTC),
        "ended_at": datetime(2025, 3, 1, 9, minute + 1, tzinfo=UTC), **fields,
    }
    return FlowRun(**values)


def results(settings, flow: str, fmt: str, **options) -> tuple[int, str]:
    out = io.StringIO()
    code = main(settings, flow, fmt, out=out, **options)
    return code, out.getvalue()


def test_csv_has_fixed_columns_then_one_per_result_key_in_flow_order(settings, db_engine):
    add_runs(
        db_engine,
        run("r2", 5, {"confirm": "submit", "priority": "water_kiosks", "ward": "kondele"}),
        run("r1", 1, {"priority": "street_lights"}, status="incomplete", last_step="age"),
    )
    code, text = results(settings, "budget", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["run_id", "contact", "channel", "language", "status", "last_step",
                       "started_at", "ended_at", "simulated",
                       "priority", "age", "ward", "comment", "confirm"]
    assert rows[1] == ["r1", CONTACT, "ussd", "sw", "incomplete", "age",
                       "2025-03-01T09:01:00+00:00", "2025-03-01T09:02:00+00:00", "False",
                       "street_lights", "", "", "", ""]
    assert rows[2][0] == "r2" and rows[2][9:] == ["water_kiosks", "", "kondele", "", "submit"]


def test_csv_cells_cannot_become_spreadsheet_formulas(settings, db_engine):
    comment = '=HYPERLINK("http://evil.example","click")'
    add_runs(db_engine, run("r1", 1, {"comment": comment, "ward": "@SUM(A1)"}))
    _, text = results(settings, "budget", "csv")
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[12] == "'" + comment
    assert row[11] == "'@SUM(A1)"


@pytest.mark.parametrize(
    ("value", "safe"),
    [("=1+1", "'=1+1"), ("+254711000001", "+254711000001"), ("-2", "-2"), ("-2.5", "-2.5"),
     ("+2+3", "'+2+3"), ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
     ("+254 711 000001", "'+254 711 000001"), ("@x", "'@x"),
     ("\tx", "'\tx"), ("\rx", "'\rx"), ("water", "water"), (5, "5"), (None, ""), ("", "")],
)
def test_formula_safe(value, safe):
    assert formula_safe(value) == safe


def test_json_lists_every_run_with_its_answers(settings, db_engine):
    add_runs(db_engine, run("r1", 1, {"priority": "drainage", "households": 3}))
    code, text = results(settings, "budget", "json")
    assert code == 0
    assert json.loads(text) == [{
        "run_id": "r1", "contact": CONTACT, "channel": "ussd", "language": "sw",
        "status": "completed", "last_step": "thanks", "started_at": "2025-03-01T09:01:00+00:00",
        "ended_at": "2025-03-01T09:02:00+00:00", "simulated": False,
        "answers": {"priority": "drainage", "households": 3},
    }]


def test_simulator_runs_are_left_out_unless_asked_for(settings, db_engine):
    add_runs(db_engine, run("real", 1, {"priority": "drainage"}),
             run("played", 3, {"priority": "street_lights"}, simulated=True))
    for fmt in ("csv", "json"):
        code, text = results(settings, "budget", fmt)
        assert code == 0 and "drainage" in text
        assert "played" not in text and "street_lights" not in text
    _, text = results(settings, "budget", "csv", include_simulated=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["run_id"], r["simulated"], r["priority"]) for r in rows] == [
        ("real", "False", "drainage"), ("played", "True", "street_lights")]
    _, text = results(settings, "budget", "json", include_simulated=True)
    assert [(r["run_id"], r["simulated"]) for r in json.loads(text)] == [
        ("real", False), ("played", True)]


def test_a_flow_played_only_in_the_simulator_prints_only_the_header(settings, db_engine):
    add_runs(db_engine, run("played", 1, {"priority": "drainage"}, simulated=True))
    code, text = results(settings, "budget", "csv")
    assert code == 0 and text.count("\r\n") == 1 and text.startswith("run_id,")


def test_only_pseudonyms_appear_never_a_phone_number(client, settings, db_engine):
    citizen = Citizen(client, phone="+254711222333")
    citizen.dial()
    for typed in ["1", "1", "2", "3", "0", "1"]:
        citizen.type(typed)
    runtime = client.app.state.runtime
    assert drain_outbox(runtime.redis_sync, db_engine) == 1
    for fmt in ("csv", "json"):
        code, text = results(settings, "budget", fmt)
        assert code == 0 and "water_kiosks" in text
        assert "711222333" not in text


def test_a_flow_with_no_runs_prints_only_the_header(settings, db_engine):
    assert results(settings, "survey", "csv") == (0, (
        "run_id,contact,channel,language,status,last_step,started_at,ended_at,simulated,"
        "visited,service,rating,problem,recommend,why_not\r\n"))  # CRLF, as RFC 4180 says


def test_an_unknown_flow_is_an_error(settings, db_engine, capsys):
    assert results(settings, "nosuchflow", "csv") == (1, "")
    assert "unknown flow 'nosuchflow'" in capsys.readouterr().err
