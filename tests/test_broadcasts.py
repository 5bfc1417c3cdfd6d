"""gateway.broadcasts without the web pages: reading numbers, the invite, figures, who an
audience reaches, the ward runs leave on contacts, cancelling before a scheduled start, the
bulk insert, and the invites and jobs a launch queues."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from outbox_support import fresh_number
from rq import Queue
from sqlmodel import Session, select

from gateway.broadcasts import launch, progress
from gateway.broadcasts.audience import Audience
from gateway.broadcasts.bulk import insert_ignoring
from gateway.broadcasts.figures import figures
from gateway.broadcasts.form import LaunchFields, read
from gateway.broadcasts.invite import suggested_invite
from gateway.broadcasts.numbers import parse_numbers
from gateway.broadcasts.selection import select_audience
from gateway.crypto import decrypt_number, encrypt_number
from gateway.models import Broadcast, Contact, OutboundMessage
from gateway.phone import pseudonym
from gateway.runs import drain_outbox
from gateway.sessions import OUTBOX

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
IN_UTC = ZoneInfo("UTC")
NAIROBI = ZoneInfo("Africa/Nairobi")  # UTC+3, no daylight saving


@pytest.mark.parametrize(("text", "numbers", "errors", "repeated"), [
    ("0711000001\n+254711000002\n", ["+254711000001", "+254711000002"], [], 0),
    ("254711000001\n0711 000 001\n", ["+254711000001"], [], 1),  # the same number twice
    ("phone\n0711000001\nhello\n\n12\n", ["+254711000001"],
     ["line 3: not a phone number", "line 5: not a phone number"], 0),
    ("name,msisdn\nAmina,0711000001\nBaraka,\n", ["+254711000001"],
     ["line 3: not a phone number"], 0),  # the column headed msisdn
    ("\ufeff+447700900123\n", ["+447700900123"], [], 0),  # Excel's byte-order mark
], ids=["plain", "repeat", "header-and-bad-rows", "named-column", "bom"])
def test_reading_a_list_of_numbers(text, numbers, errors, repeated):
    found = parse_numbers(text)
    assert (found.numbers, found.errors, found.repeated) == (numbers, errors, repeated)


def test_a_file_and_a_pasted_list_together_name_where_each_bad_row_is():
    reading = read(LaunchFields(audience="csv", numbers="0711000001\nbad\n", text="Hi"),
                   file_text="0711000001\nworse\n", languages=("en",), now=NOW, zone=IN_UTC)
    assert reading.listed.errors == ["file line 2: not a phone number",
                                     "pasted line 2: not a phone number"]
    assert reading.audience.numbers == ("+254711000001",) and reading.listed.repeated == 1


@pytest.mark.parametrize(("fields", "problem"), [
    (LaunchFields(text=""), "Write the invite text."),
    (LaunchFields(text="Hi", language="xx"), "Unknown language 'xx'."),
    (LaunchFields(text="Hi", when="later", send_at="soon"), "Give the date and time"),
    (LaunchFields(text="Hi", when="later", send_at="2025-03-01T08:00"), "has passed"),
    (LaunchFields(text="Hi", audience="csv"), "no valid number was found"),
    (LaunchFields(text="Hi", tag="=HYPERLINK(1)"), "A tag is up to 40 letters"),
    (LaunchFields(text="Hi", audience="csv", numbers="0711000001", tag_listed="x" * 41),
     "A tag is up to 40 letters"),
])
def test_what_stops_a_launch_form(fields, problem):
    problems = read(fields, file_text=None, languages=("en",), now=NOW, zone=IN_UTC).problems
    assert len(problems) == 1 and problem in problems[0]


@pytest.mark.parametrize(("zone", "typed", "meant"), [
    (IN_UTC, "2025-03-01T12:30", datetime(2025, 3, 1, 12, 30, tzinfo=UTC)),
    (NAIROBI, "2025-03-01T12:30", datetime(2025, 3, 1, 9, 30, tzinfo=UTC)),
    (NAIROBI, "2025-03-01T12:30+00:00", datetime(2025, 3, 1, 12, 30, tzinfo=UTC)),
])
def test_a_later_time_is_read_in_the_staff_time_zone(zone, typed, meant):
    reading = read(LaunchFields(text="Hi", when="later", send_at=typed),
                   file_text=None, languages=("en",), now=NOW, zone=zone)
    assert reading.problems == [] and reading.send_at == meant


def test_nine_in_the_morning_in_nairobi_has_passed_at_seven_utc():
    reading = read(LaunchFields(text="Hi", when="later", send_at="2025-03-01T09:30"),
                   file_text=None, languages=("en",), now=NOW.replace(hour=7), zone=NAIROBI)
    assert reading.problems == ["The time to send at has passed: pick a time in the future, "
                                "or send now."]


def test_a_tag_is_kept_in_one_spelling():
    reading = read(LaunchFields(audience="csv", numbers="0711000001", text="Hi",
                                tag_listed="  Youth   Forum ", tag="ignored"),
                   file_text=None, languages=("en",), now=NOW, zone=IN_UTC)
    assert reading.problems == [] and reading.audience.tag == "youth forum"
    assert reading.audience.describe() == (
        "1 number from a list, tagged 'youth forum' (leaving out anyone already invited to "
        "this poll)")


def test_the_suggested_invite_names_the_flows_code_and_keyword(settings):
    assert suggested_invite(settings, "survey", {"en": "Service survey"}) == (
        "Service survey: have your say. Dial *384*3# or reply SURVEY. Reply STOP to opt out.")


def test_figures_add_costs_per_currency(settings):
    shown = figures(settings, "Ж" * 80, {"africastalking": 10, "twilio": 2}, excluded=1,
                    no_number=0)
    assert (shown.encoding, shown.segments, shown.total_segments) == ("UCS-2", 2, 24)
    assert shown.costs == [("KES", 16.0), ("USD", round(4 * 0.0079, 4))]


def add(db_engine, settings, **values) -> str:
    number = fresh_number()
    now = datetime.now(UTC)
    with Session(db_engine) as session:
        session.add(Contact(pseudonym=pseudonym(number, settings.secret_key),
                            number_encrypted=encrypt_number(number, settings.secret_key),
                            created_at=now, updated_at=now, **values))
        session.commit()
    return pseudonym(number, settings.secret_key)


def test_an_audience_by_ward_language_and_tag(db_engine, settings):
    wanted = add(db_engine, settings, ward_code="kondele", language="sw", tags=["youth"])
    add(db_engine, settings, ward_code="kondele", language="sw", tags=["elders"])
    add(db_engine, settings, ward_code="kondele", language="en", tags=["youth"])
    add(db_engine, settings, ward_code="migosi", language="sw", tags=["youth"])
    add(db_engine, settings, ward_code="kondele", language="sw", tags=["youth"], opted_out=True)

    with Session(db_engine) as session:
        chosen = select_audience(session, Audience(ward="kondele", language="sw", tag="youth"),
                                 settings.secret_key, "budget")
        everyone = select_audience(session, Audience(), settings.secret_key, "budget")
    assert [r.pseudonym for r in chosen.recipients] == [wanted] and chosen.excluded == 1
    assert (len(everyone.recipients), everyone.excluded) == (4, 1)


@pytest.mark.parametrize(("answers", "simulated", "ward"), [
    ({"ward": "kondele"}, False, "kondele"),
    ({"ward": "other"}, False, None),  # "Another ward" names no ward
    ({"ward": "kondele"}, True, None),  # a staff simulation is not a citizen
    ({"priority": "water"}, False, None),
])
def test_a_finished_run_leaves_its_ward_on_the_contact(
    redis_sync, db_engine, answers, simulated, ward
):
    now = time.time()
    redis_sync.rpush(OUTBOX, json.dumps({
        "run_id": "run-w", "flow": "budget", "contact": "c-ward", "channel": "ussd",
        "language": "sw", "status": "completed", "last_step": "thanks", "answers": answers,
        "hops": 6, "started_at": now - 60, "ended_at": now, "simulated": simulated}))
    drain_outbox(redis_sync, db_engine)
    with Session(db_engine) as session:
        contact = session.exec(select(Contact).where(Contact.pseudonym == "c-ward")).one()
    assert contact.ward_code == ward


def test_a_broadcast_cancelled_before_its_time_never_queues(db_engine, redis_sync, settings):
    add(db_engine, settings, ward_code="kondele")
    draft = launch.Draft("budget", "Dial *384*1#", Audience(ward="kondele"), "token-1",
                         datetime.now(UTC) + timedelta(hours=1))
    with Session(db_engine, expire_on_commit=False) as session:
        created = launch.create(session, settings, draft, "ann@county.go.ke")
        session.commit()
        assert progress.cancel(session, created.broadcast.id) == 0
        session.commit()

    assert launch.start(db_engine, redis_sync, settings, created.broadcast.id) == 0
    with Session(db_engine) as session:
        assert session.exec(select(OutboundMessage)).all() == []
        assert session.get(Broadcast, created.broadcast.id).status == "cancelled"
        assert progress.cancel(session, created.broadcast.id) is None  # once is enough


def test_bulk_insert_skips_existing_keys_and_adds_the_shared_values(db_engine):
    now = datetime.now(UTC)
    table = Contact.__table__
    stamps = {"opted_out": False, "created_at": now, "updated_at": now}
    with Session(db_engine) as session:
        insert_ignoring(session, table, [{"pseudonym": "p1", "language": "sw"}], "pseudonym",
                        same={**stamps, "tags": ["youth"]})
        insert_ignoring(session, table, [{"pseudonym": "p1", "language": "en"},
                                         {"pseudonym": "p2", "language": "en"}], "pseudonym",
                        same={**stamps, "tags": ["elders"]})
        insert_ignoring(session, table, [{"pseudonym": "p3", "tags": ["a", "b"]}], "pseudonym",
                        same=stamps)  # a JSON value that differs per row
        session.commit()
    with Session(db_engine) as session:
        found = {c.pseudonym: (c.language, c.tags) for c in session.exec(select(Contact))}
    assert found == {"p1": ("sw", ["youth"]), "p2": ("en", ["elders"]), "p3": (None, ["a", "b"])}


def test_a_launch_queues_one_invite_each_in_jobs_and_enqueues_them(db_engine, redis_sync, settings):
    now = datetime.now(UTC)
    numbers = [fresh_number() for _ in range(60)]
    with Session(db_engine) as session:
        session.add_all([Contact(pseudonym=pseudonym(n, settings.secret_key),
                                 number_encrypted=encrypt_number(n, settings.secret_key),
                                 ward_code="kondele", created_at=now, updated_at=now)
                         for n in numbers])
        session.commit()
    draft = launch.Draft("budget", "Dial *384*1# – it’s your budget", Audience(ward="kondele"),
                         "token-60")
    with Session(db_engine, expire_on_commit=False) as session:
        created = launch.create(session, settings, draft, "ann@county.go.ke")
        session.commit()
    launch.after_commit(redis_sync, settings, created)

    with Session(db_engine) as session:
        invites = session.exec(select(OutboundMessage)).all()
    assert sorted(decrypt_number(m.number_encrypted, settings.secret_key)
                  for m in invites) == sorted(numbers)
    assert {(m.text, m.kind, m.priority, m.status, m.encoding, m.segments, m.cost_estimate,
             m.broadcast_id) for m in invites} == {
        ("Dial *384*1# - it's your budget", "bulk", "low", "queued", "GSM-7", 1, 0.8,
         created.broadcast.id)}  # transliterated to GSM-7, one segment at KES 0.8
    jobs = Queue("low", connection=redis_sync).jobs
    assert sorted(len(job.args[0]) for job in jobs) == [10, 25, 25]  # 0.5 s at 50/s a job
    assert sorted(i for job in jobs for i in job.args[0]) == sorted(m.id for m in invites)
