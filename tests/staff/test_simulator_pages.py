"""The web simulator: an admin sees exactly the citizen's screens; nothing counts as real."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

from sqlmodel import Session, select
from starlette.testclient import TestClient
from transcript import load_transcripts

from gateway import results
from gateway.models import AuditEntry, FlowRun, InboundMessage, OutboundMessage
from gateway.runs import drain_outbox
from staff.conftest import ADMIN
from staff.staff_support import csrf_of

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "transcripts"
SCREEN = re.compile(r'<div class="phone[^"]*" id="sim-screen"[^>]*>(.*?)</div>', re.S)
GATEWAY_SMS = re.compile(r'<p class="sms sms-gateway">(?:<span[^>]*>[^<]*</span>)?(.*?)</p>', re.S)


def screen_of(page: str) -> str:
    """The text on the phone, as the admin reads it."""
    found = SCREEN.search(page)
    assert found, "no phone screen on the page"
    return html.unescape(found.group(1))


def act(client: TestClient, action: str, **fields: str) -> str:
    """Post one simulator form as the browser would, follow the redirect, return the page."""
    token = csrf_of(client.get("/staff/simulator").text)
    response = client.post("/staff/simulator", data={"csrf_token": token, "action": action,
                                                     **fields})
    assert response.status_code == 200, response.text
    return response.text


def test_an_admin_sees_the_golden_transcript_screen_by_screen(admin, redis_sync, db_engine):
    (transcript, *_) = load_transcripts(TRANSCRIPTS / "budget.en.txt")
    page = act(admin, "start", flow="budget", channel="ussd")
    assert "*384*1#" in page
    for hop in transcript.hops:
        if hop is not transcript.hops[0]:
            page = (act(admin, "restart") if hop.typed == transcript.dial
                    else act(admin, "send", input=hop.typed))
        shown = screen_of(page)
        assert hop.screen in (f"CON {shown}", f"END {shown}"), f"after > {hop.typed}"
        assert len(shown) <= 182
        assert ("Session ended." in page) is hop.screen.startswith("END ")
    assert 'name="input"' not in page  # an ended session takes no more input

    assert drain_outbox(redis_sync, db_engine) >= 1
    with Session(db_engine) as session:
        runs = session.exec(select(FlowRun)).all()
    assert runs and all(run.simulated for run in runs)
    assert "completed" in {run.status for run in runs}


def real_citizen_votes(client: TestClient, inputs: list[str]) -> str:
    """A real citizen's USSD session through the Africa's Talking webhook."""
    for hop in range(len(inputs) + 1):
        screen = client.post("/ussd/africastalking", data={
            "sessionId": "ATUid_real", "serviceCode": "*384*1#", "phoneNumber": "+254711000999",
            "networkCode": "63902", "text": "*".join(inputs[:hop])}).text
    return screen


def test_results_leave_simulated_runs_out(admin, staff_settings, redis_sync, db_engine):
    act(admin, "start", flow="budget", channel="ussd")
    for typed in ["1", "1", "3", "1", "0", "1"]:
        page = act(admin, "send", input=typed)
    assert screen_of(page).startswith("Thank you! Your vote for Water kiosks")
    ended = real_citizen_votes(admin, ["1", "3", "3", "1", "0", "1"])
    assert ended.startswith("END Thank you! Your vote for Street lights")
    assert drain_outbox(redis_sync, db_engine) == 2

    def cli_rows(**options) -> list[tuple[str, bool]]:
        out = io.StringIO()
        assert results.main(staff_settings, "budget", "json", out, **options) == 0
        return sorted((row["answers"]["priority"], row["simulated"])
                      for row in json.loads(out.getvalue()))

    assert cli_rows() == [("street_lights", False)]  # `gateway results` leaves them out too
    assert cli_rows(include_simulated=True) == [("street_lights", False), ("water_kiosks", True)]
    export = admin.get("/staff/polls/budget/results.csv")
    assert export.status_code == 200
    assert "street_lights" in export.text or "Street lights" in export.text
    assert "water_kiosks" not in export.text and "Water kiosks" not in export.text


def test_over_sms_each_send_is_one_sms_and_nothing_is_queued(admin, db_engine):
    page = act(admin, "start", flow="budget", channel="sms")
    assert '<p class="sms sms-citizen">' in page and ">POLL</p>" in page
    first = [html.unescape(t) for t in GATEWAY_SMS.findall(page)]
    assert first[0].startswith("Which project should your ward fund first?\n1. Water kiosks")
    for typed in ["1", "2", "5", "0", "1"]:
        page = act(admin, "send", input=typed)
    replies = [html.unescape(t) for t in GATEWAY_SMS.findall(page)]
    assert replies[-1] == ("Thank you! Your vote for Water kiosks is recorded. "
                           "The county will share the results.")
    assert "The conversation has ended." in page
    with Session(db_engine) as session:
        assert session.exec(select(OutboundMessage)).all() == []
        assert session.exec(select(InboundMessage)).all() == []


def test_starting_is_audited_with_the_flow_and_the_made_up_number(admin, db_engine):
    page = act(admin, "start", flow="survey", channel="ussd")
    phone = re.search(r"from (\+2547000\d{5})\)", page)
    assert phone, "the page names the made-up number"
    with Session(db_engine) as session:
        (entry,) = session.exec(select(AuditEntry).where(
            AuditEntry.action == "simulator_start")).all()
    assert (entry.actor, entry.target) == (ADMIN, "survey")
    assert phone.group(1) in entry.detail and "USSD *384*3#" in entry.detail


def test_hang_up_returns_to_the_choice_and_unknown_flows_are_refused(admin):
    act(admin, "start", flow="budget", channel="ussd")
    page = act(admin, "hangup")
    assert 'id="sim-screen"' not in page and '<select id="sim-flow" name="flow"' in page
    token = csrf_of(admin.get("/staff/simulator").text)
    refused = admin.post("/staff/simulator", data={
        "csrf_token": token, "action": "start", "flow": "../settings", "channel": "ussd"})
    assert refused.status_code == 400
    assert "Pick a flow and a channel" in refused.text and 'id="sim-screen"' not in refused.text


def test_analysts_get_403_and_a_post_without_the_token_does_nothing(analyst, admin, redis_sync):
    assert analyst.get("/staff/simulator").status_code == 403
    token = csrf_of(analyst.get("/staff/").text)
    denied = analyst.post("/staff/simulator", data={
        "csrf_token": token, "action": "start", "flow": "budget", "channel": "ussd"})
    assert denied.status_code == 403
    forged = admin.post("/staff/simulator", data={"action": "start", "flow": "budget",
                                                  "channel": "ussd"})
    assert forged.status_code == 403
    assert redis_sync.keys("gw:staff:sim:*") == []
