"""The Africa's Talking USSD webhooks, as a table of requests and what comes back.

Every refused request must leave Redis untouched: a provider retrying garbage cannot create
sessions or runs.
"""

from __future__ import annotations

import json
import socket
import time
import tomllib
from pathlib import Path

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient
from ussd_support import BUDGET, SURVEY, Citizen, fresh_phone, hop_form

from gateway.app import create_app
from gateway.channels.africastalking import (
    parse_ussd_event,
    parse_ussd_hop,
    render_ussd,
)
from gateway.flows.render import Screen
from gateway.models import FlowRun, UssdSessionRecord
from gateway.phone import pseudonym
from gateway.runs import drain_outbox
from gateway.sessions import OUTBOX, run_key, session_key

PICKER = "CON Language / Lugha / Langue:\n1. English\n2. Kiswahili\n3. Français"
REPO = Path(__file__).resolve().parent.parent
HOP = "/ussd/africastalking"
EVENTS = "/ussd/africastalking/events"


def _without(field: str) -> dict:
    form = hop_form("ATUid_1", "+254711000001", "")
    del form[field]
    return form


BAD_HOPS = [
    ("missing sessionId", _without("sessionId"), "missing sessionId"),
    ("empty sessionId", hop_form("", "+254711000001", ""), "empty sessionId"),
    ("blank sessionId", hop_form("   ", "+254711000001", ""), "empty sessionId"),
    ("spaces in sessionId", hop_form("AT id", "+254711000001", ""),
     "sessionId has invalid characters"),
    ("long sessionId", hop_form("A" * 129, "+254711000001", ""),
     "sessionId longer than 128 characters"),
    ("missing phoneNumber", _without("phoneNumber"), "missing phoneNumber"),
    ("garbage phoneNumber", hop_form("ATUid_1", "not-a-number", ""),
     "phoneNumber is not a valid phone number"),
    ("short phoneNumber", hop_form("ATUid_1", "12", ""),
     "phoneNumber is not a valid phone number"),
    ("missing serviceCode", _without("serviceCode"), "missing serviceCode"),
    ("long serviceCode", hop_form("ATUid_1", "+254711000001", "", code="*" * 33),
     "serviceCode longer than 32 characters"),
    ("long text", hop_form("ATUid_1", "+254711000001", "1" * 2001),
     "text longer than 2000 characters"),
    ("control characters in text", hop_form("ATUid_1", "+254711000001", "1\n2"),
     "text has control characters"),
    ("long networkCode", hop_form("ATUid_1", "+254711000001", "", networkCode="9" * 17),
     "networkCode longer than 16 characters"),
]


@pytest.mark.parametrize(("form", "reason"), [case[1:] for case in BAD_HOPS],
                         ids=[case[0] for case in BAD_HOPS])
def test_a_bad_hop_is_refused_with_a_reason_and_changes_nothing(client, redis_sync, form, reason):
    response = client.post(HOP, data=form)
    assert (response.status_code, response.text) == (400, reason)
    assert response.headers["content-type"].startswith("text/plain")
    assert redis_sync.dbsize() == 0


@pytest.mark.parametrize(
    ("content", "content_type", "status", "reason"),
    [
        (json.dumps(hop_form("ATUid_1", "+254711000001", "")), "application/json", 400,
         "content type must be application/x-www-form-urlencoded"),
        (b"sessionId=ATUid_1", None, 400,
         "content type must be application/x-www-form-urlencoded"),
        (b"sessionId=%ff%fe&phoneNumber=%2B254711000001", "application/x-www-form-urlencoded",
         400, "body is not a UTF-8 form"),
        (b"sessionId=a&sessionId=b&phoneNumber=%2B254711000001&serviceCode=*384*1%23",
         "application/x-www-form-urlencoded", 400, "field sessionId given twice"),
        # Larger than settings.toml's app.max_body_bytes (32,768), so refused before parsing.
        (b"text=" + b"1" * 40_000, "application/x-www-form-urlencoded", 413, "Content Too Large"),
    ],
    ids=["json body", "no content type", "not utf-8", "repeated field", "oversized body"],
)
def test_a_body_that_is_not_a_small_form_is_refused(
    client, redis_sync, content, content_type, status, reason
):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(HOP, content=content, headers=headers)
    assert (response.status_code, response.text) == (status, reason)
    assert redis_sync.dbsize() == 0


def test_a_good_first_hop_shows_the_language_picker_and_opens_a_session(client, redis_sync):
    response = client.post(HOP, data=hop_form("ATUid_good", "+254711000001", ""))
    assert (response.status_code, response.text) == (200, PICKER)
    assert redis_sync.exists("gw:ussd:ATUid_good")


def test_a_multipart_form_is_read_like_an_urlencoded_one(client):
    form = hop_form("ATUid_mp", "0711000001", "")
    response = client.post(HOP, files={"x": (None, "")}, data=form)
    assert (response.status_code, response.text) == (200, PICKER)


def test_an_unknown_service_code_ends_with_unavailable_and_writes_nothing(client, redis_sync):
    response = client.post(HOP, data=hop_form("ATUid_2", "+254711000001", "", code="*999#"))
    assert (response.status_code, response.text) == (
        200, "END Sorry, this service is not available.")
    assert redis_sync.dbsize() == 0


SYSTEM_TEXTS = tomllib.loads((REPO / "flows" / "_system.toml").read_text())["texts"]
PICK = {"en": "1", "sw": "2", "fr": "3"}  # the language picker's numbers
INVALID = [  # (code, inputs after the language, wrong reply, system text, its values)
    (BUDGET, [], "99", "invalid_choice", {}),  # priority: out of range
    (BUDGET, [], "maji", "invalid_choice", {}),  # priority: letters
    (SURVEY, [], "3", "invalid_choice", {}),  # visited (yes/no): out of range
    (SURVEY, ["1", "1"], "abc", "invalid_number", {"min": 1, "max": 5}),  # rating: letters
    (SURVEY, ["1", "1"], "9", "invalid_number", {"min": 1, "max": 5}),  # rating: out of range
]


@pytest.mark.parametrize("language", ["en", "sw", "fr"])
@pytest.mark.parametrize(("code", "before", "wrong", "key", "values"), INVALID,
                         ids=[f"{c[3]} for {c[2]!r}" for c in INVALID])
def test_an_invalid_answer_reprompts_in_the_citizens_language_and_saves_nothing(
    client, redis_sync, language, code, before, wrong, key, values
):
    citizen = Citizen(client, code=code)
    citizen.dial()
    screen = citizen.type(PICK[language])
    for typed in before:
        screen = citizen.type(typed)
    contact = pseudonym(citizen.phone, client.app.state.runtime.settings.secret_key)
    flow = "budget" if code == BUDGET else "survey"
    answers = json.loads(redis_sync.get(run_key(contact, flow)))["s"]["a"]

    again = citizen.type(wrong)

    error = SYSTEM_TEXTS[key][language].format(**values)
    assert again == f"CON {error}\n" + screen.removeprefix("CON ")
    assert json.loads(redis_sync.get(run_key(contact, flow)))["s"]["a"] == answers


def test_a_repeated_hop_gets_the_same_screen_and_records_nothing_twice(client, redis_sync):
    citizen = Citizen(client)
    citizen.dial()
    first = citizen.type("1")
    before = {key: redis_sync.dump(key) for key in redis_sync.keys("*")}
    assert citizen._post("1") == first  # AT retrying the hop
    after = {key: redis_sync.dump(key) for key in redis_sync.keys("*")}
    assert after == before


def test_a_repeated_final_hop_records_the_run_once(client, redis_sync, db_engine):
    citizen = Citizen(client)
    citizen.dial()
    for typed in ["1", "1", "2", "3", "0"]:
        citizen.type(typed)
    end = citizen.type("1")
    assert end.startswith("END Thank you!")
    for _ in range(2):
        assert citizen._post("*".join(citizen.typed)) == end
    assert redis_sync.llen(OUTBOX) == 1
    assert drain_outbox(redis_sync, db_engine) == 1
    with Session(db_engine) as session:
        assert len(session.exec(select(FlowRun)).all()) == 1


@pytest.fixture
def silent_redis():
    """A port that accepts connections and never answers: a hung Redis, not a refused one."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


@pytest.mark.parametrize("kind", ["refused", "hung"])
def test_redis_down_answers_503_well_under_a_second(settings, silent_redis, kind):
    import dataclasses

    url = {"refused": "redis://127.0.0.1:1/0", "hung": silent_redis}[kind]
    ussd = dataclasses.replace(settings.ussd, hop_deadline_seconds=0.5)  # the default
    down = dataclasses.replace(settings, redis_url=url, ussd=ussd)
    with TestClient(create_app(down)) as client:
        started = time.monotonic()
        response = client.post(HOP, data=hop_form("ATUid_3", "+254711000001", ""))
        elapsed = time.monotonic() - started
    assert (response.status_code, response.text) == (503, "redis unavailable")
    assert elapsed < 0.75


def test_the_session_lives_as_long_as_the_settings_say(settings, redis_sync):
    import dataclasses

    ussd = dataclasses.replace(settings.ussd, session_ttl_seconds=42, resume_window_seconds=120)
    with TestClient(create_app(dataclasses.replace(settings, ussd=ussd))) as client:
        citizen = Citizen(client)
        citizen.dial()
        citizen.type("1")
    contact = pseudonym(citizen.phone, settings.secret_key)
    assert 40 <= redis_sync.ttl(session_key(citizen.session_id)) <= 42
    assert 120 < redis_sync.ttl(run_key(contact, "budget")) <= 120 + 86400


def test_an_unexpected_error_gives_an_apology_in_the_citizens_language(
    client, redis_sync, monkeypatch
):
    citizen = Citizen(client)
    citizen.dial()
    citizen.type("3")  # Français, remembered

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("gateway.hop.engine.resume", broken)
    assert citizen.type("1") == (
        "END " + client.app.state.runtime.texts.text("apology", "fr"))


# --- parsing, without HTTP ------------------------------------------------------------------


def test_the_phone_number_is_normalised_to_e164():
    hop = parse_ussd_hop(hop_form("ATUid_1", "0711 000 001", "1*2"))
    assert (hop.phone, hop.text, hop.service_code) == ("+254711000001", "1*2", BUDGET)


def test_a_missing_text_is_the_first_hop():
    form = hop_form("ATUid_1", "+254711000001", "")
    del form["text"]
    assert parse_ussd_hop(form).text == ""


@pytest.mark.parametrize(
    ("screen", "body"),
    [(Screen("Pick one:\n1. A", final=False), "CON Pick one:\n1. A"),
     (Screen("Thanks", final=True), "END Thanks")],
)
def test_render_ussd(screen, body):
    assert render_ussd(screen) == body


# --- end-of-session notifications ---------------------------------------------------------


def event_form(session_id: str = "ATUid_ev", **fields: str) -> dict:
    return {
        "sessionId": session_id,
        "serviceCode": BUDGET,
        "phoneNumber": "+254711000001",
        "networkCode": "63902",
        "status": "Success",
        "cost": "KES 0.0500",
        "durationInMillis": "23000",
        "hopsCount": "7",
        "input": "1*1*2*3*0*1",
        "lastAppResponse": "END Thank you!",
        "errorMessage": "",
        "date": "2025-01-01 10:00:00",
        **fields,
    }


@pytest.mark.parametrize(
    ("raw", "status"),
    [("Success", "completed"), ("Incomplete", "incomplete"), ("Failed", "failed")],
)
def test_event_statuses_map_through_the_table(raw, status):
    assert parse_ussd_event(event_form(status=raw)).status == status


BAD_EVENTS = [
    ("missing sessionId", {"sessionId": ""}, "empty sessionId"),
    ("unknown status", {"status": "Exploded"}, "unknown status 'Exploded'"),
    ("missing status", {"status": ""}, "missing status"),
    ("duration not a number", {"durationInMillis": "soon"},
     "durationInMillis is not a whole number"),
    ("negative hops", {"hopsCount": "-1"}, "hopsCount is negative"),
    ("garbage phone", {"phoneNumber": "abc"}, "phoneNumber is not a valid phone number"),
]


@pytest.mark.parametrize(("fields", "reason"), [c[1:] for c in BAD_EVENTS],
                         ids=[c[0] for c in BAD_EVENTS])
def test_a_bad_event_is_refused_and_stores_nothing(client, fields, reason):
    response = client.post(EVENTS, data=event_form(**fields))
    assert (response.status_code, response.text) == (400, reason)
    with Session(client.app.state.runtime.engine) as session:
        assert session.exec(select(UssdSessionRecord)).all() == []


def test_an_event_is_recorded_once_per_session(client, settings):
    engine = client.app.state.runtime.engine
    for _ in range(2):
        response = client.post(EVENTS, data=event_form())
        assert (response.status_code, response.text) == (200, "ok")
    with Session(engine) as session:
        records = session.exec(select(UssdSessionRecord)).all()
    assert len(records) == 1
    record = records[0]
    assert (record.session_id, record.status, record.duration_ms, record.hops_count) == (
        "ATUid_ev", "completed", 23000, 7)
    assert record.contact_pseudonym and "254711000001" not in record.contact_pseudonym
    assert record.last_response == "END Thank you!"


def test_an_event_with_the_database_down_answers_503(settings, redis_sync):
    import dataclasses

    down = dataclasses.replace(
        settings, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    with TestClient(create_app(down)) as client:
        response = client.post(EVENTS, data=event_form(phoneNumber=fresh_phone()))
    assert (response.status_code, response.text) == (503, "database unavailable")


# --- a number starting session after session ------------------------------------------------


def test_a_number_dialling_too_often_is_asked_to_wait_a_minute_in_its_language(client, settings):
    limit = settings.ussd.per_number_starts_per_minute
    citizen = Citizen(client)
    assert citizen.dial() == PICKER
    assert citizen.type("2").startswith("CON ")  # Kiswahili, remembered
    for _ in range(limit - 1):  # the call keeps dropping; each dial is a new session
        assert citizen.dial().startswith("CON ")
    refused = citizen.dial()
    assert refused == (
        "END Samahani, umepiga mara nyingi. Tafadhali jaribu tena baada ya dakika moja.")
    assert len(refused) - len("END ") <= 182
    assert citizen._post("") == refused  # AT repeating that first hop gets the same answer
    # the sessions already open go on, and other numbers are not held up
    assert Citizen(client).dial() == PICKER


def test_the_limit_counts_new_sessions_not_the_hops_inside_them(client, settings):
    limit = settings.ussd.per_number_starts_per_minute
    citizen = Citizen(client)
    citizen.dial()
    citizen.type("1")
    for answer in ["98", "0"] * limit:  # paging the first menu: many hops, one session
        assert citizen.type(answer).startswith("CON ")


def test_no_limit_when_the_setting_is_zero(settings, redis_sync):
    import dataclasses

    unlimited = dataclasses.replace(
        settings, ussd=dataclasses.replace(settings.ussd, per_number_starts_per_minute=0))
    with TestClient(create_app(unlimited)) as client:
        citizen = Citizen(client)
        for _ in range(settings.ussd.per_number_starts_per_minute + 5):
            assert citizen.dial() == PICKER
