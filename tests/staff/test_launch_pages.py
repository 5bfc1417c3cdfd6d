"""Launching a poll from the staff view: audience, preview figures, confirm, progress, cancel."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from outbox_support import fresh_number, outbox_environ
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlmodel import Session, select
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.broadcasts import launch as launching
from gateway.broadcasts.selection import select_stored
from gateway.config import load_settings
from gateway.emulator.server import running
from gateway.emulator.state import EmulatorConfig
from gateway.models import Contact
from gateway.phone import pseudonym
from staff.launch_support import (
    LAUNCH,
    Phones,
    add_contact,
    broadcasts,
    confirm_form,
    count,
    figure,
    invites,
    launch,
    message_count,
    preview,
)
from staff.staff_support import csrf_of, log_in

PHONE_CSV = "text/csv"


@pytest.fixture
def phones(staff_settings, database_url, redis_url, redis_sync, tmp_path, monkeypatch) -> Phones:
    """The provider emulator; forked RQ work horses send to it (they read os.environ)."""
    sent_file = tmp_path / "emulator" / "sent.jsonl"
    config = EmulatorConfig.from_settings(staff_settings, messages_path=sent_file,
                                          deliver_reports=False)
    with running(config) as url:
        env = outbox_environ(redis_url=redis_url, database_url=database_url,
                             var_dir=tmp_path / "var", emulator_url=url)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield Phones(redis_sync, sent_file)


def test_the_form_suggests_an_invite_naming_the_code_and_the_keyword(admin):
    page = admin.get(LAUNCH)
    assert page.status_code == 200
    assert "Ward budget poll: have your say. Dial *384*1# or reply POLL." in page.text
    assert 'name="csv"' in page.text and 'enctype="multipart/form-data"' in page.text
    assert admin.get("/staff/polls/nosuchflow/launch").status_code == 404


def test_preview_counts_recipients_stop_and_no_number_and_sends_nothing(
    admin, staff_settings, db_engine
):
    add_contact(db_engine, staff_settings, ward_code="railways", channel="africastalking")
    add_contact(db_engine, staff_settings, ward_code="railways", channel="twilio")
    add_contact(db_engine, staff_settings, ward_code="railways", opted_out=True)
    add_contact(db_engine, staff_settings, ward_code="railways", with_number=False)
    add_contact(db_engine, staff_settings, ward_code="kondele")

    shown = preview(admin, {"ward": "railways", "text": "Vote for your ward: dial *384*1#"})

    assert shown.status_code == 200, shown.text
    assert figure(shown.text, "recipients") == "2"
    assert figure(shown.text, "excluded") == "1"
    assert figure(shown.text, "no-number") == "1"
    assert figure(shown.text, "encoding") == "GSM-7"
    assert figure(shown.text, "total-segments") == "2"
    assert figure(shown.text, "cost") == "KES 0.8000 + USD 0.0079"
    assert "Nothing has been sent yet." in shown.text
    assert broadcasts(db_engine) == [] and message_count(db_engine) == 0


@pytest.mark.parametrize(("text", "encoding", "segments"), [
    ("Habari! Dial *384*1# to vote.", "GSM-7", 1),
    ("x" * 160, "GSM-7", 1),
    ("x" * 161, "GSM-7", 2),
    ("Asante 🙏 dial *384*1#", "UCS-2", 1),
    ("Ж" * 71, "UCS-2", 2),  # 71 UCS-2 units: two parts of 67
    ("Piga “*384*1#” – asante", "GSM-7", 1),  # curly quotes and dash are sent as GSM-7
], ids=["gsm7-short", "gsm7-160", "gsm7-161", "ucs2-emoji", "ucs2-71", "transliterated"])
def test_preview_shows_the_encoding_segments_and_cost_of_the_text(
    admin, text, encoding, segments
):
    numbers = "\n".join(fresh_number() for _ in range(3))
    shown = preview(admin, {"audience": "csv", "numbers": numbers, "text": text})

    assert shown.status_code == 200, shown.text
    assert figure(shown.text, "encoding") == encoding
    assert figure(shown.text, "segments").startswith(f"{segments} (")
    assert figure(shown.text, "total-segments") == str(3 * segments)
    assert figure(shown.text, "cost") == f"KES {3 * segments * 0.8:,.2f}"


def test_a_csv_file_reports_bad_rows_by_line_and_counts_repeats(admin, staff_settings, db_engine):
    stopped = add_contact(db_engine, staff_settings, opted_out=True)
    good = [fresh_number(), fresh_number()]
    csv = f"name,phone\nAmina,{good[0]}\nBaraka,hello\nChebet,{good[1]}\nDan,12\nEve,{good[0]}\n"
    csv += f"Fay,{stopped}\n"

    shown = preview(admin, {"audience": "csv"},
                    files={"csv": ("people.csv", csv.encode(), PHONE_CSV)})

    assert shown.status_code == 200, shown.text
    assert "<li>line 3: not a phone number</li>" in shown.text
    assert "<li>line 5: not a phone number</li>" in shown.text
    assert figure(shown.text, "recipients") == "2"
    assert figure(shown.text, "excluded") == "1"  # the listed number that sent STOP
    assert figure(shown.text, "repeated") == "1"
    assert figure(shown.text, "skipped") == "2"


def test_a_list_with_no_valid_number_goes_back_to_the_form(admin):
    shown = preview(admin, {"audience": "csv", "numbers": "hello\n12\n"})

    assert shown.status_code == 400
    assert "no valid number was found" in shown.text
    assert "<li>line 1: not a phone number</li>" in shown.text
    assert 'name="csrf_token"' in shown.text  # the form again, to fix and resend


def test_a_big_csv_upload_passes_the_routes_own_body_limit(admin, staff_settings):
    csv = "\n".join(f"+2547{n:08d}" for n in range(5000)).encode()
    assert len(csv) > staff_settings.app.max_body_bytes

    shown = preview(admin, {"audience": "csv"}, files={"csv": ("big.csv", csv, PHONE_CSV)})

    assert shown.status_code == 200, shown.text
    assert figure(shown.text, "recipients") == "5,000"
    assert admin.post("/staff/login", content=b"x" * (staff_settings.app.max_body_bytes + 1),
                      headers={"content-type": "application/x-www-form-urlencoded"}
                      ).status_code == 413  # other routes keep the app's limit


@pytest.fixture
def capped_admin(staff_settings, redis_sync, accounts):
    settings = replace(staff_settings, staff=replace(staff_settings.staff, recipient_cap=2))
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        yield log_in(client, accounts["admin"])


def test_above_the_cap_confirming_needs_the_extra_box(capped_admin, db_engine):
    numbers = "\n".join(fresh_number() for _ in range(3))
    shown = preview(capped_admin, {"audience": "csv", "numbers": numbers})
    assert 'name="confirm_cap"' in shown.text

    refused = capped_admin.post(LAUNCH + "/confirm", data=confirm_form(shown.text))

    assert refused.status_code == 409
    assert "more than the cap of 2" in refused.text and "Nothing was sent." in refused.text
    assert broadcasts(db_engine) == [] and message_count(db_engine) == 0

    accepted = capped_admin.post(LAUNCH + "/confirm",
                                 data={**confirm_form(refused.text), "confirm_cap": "yes"},
                                 follow_redirects=False)
    assert accepted.status_code == 303
    assert message_count(db_engine) == 3


def test_pressing_confirm_twice_makes_one_broadcast_and_one_invite_each(
    admin, staff_settings, db_engine
):
    known = add_contact(db_engine, staff_settings, ward_code="migosi", channel="twilio")
    numbers = [fresh_number(), fresh_number(), known]
    shown = preview(admin, {"audience": "csv", "numbers": "\n".join(numbers)})
    form = confirm_form(shown.text)

    first = admin.post(LAUNCH + "/confirm", data=form, follow_redirects=False)
    second = admin.post(LAUNCH + "/confirm", data=form, follow_redirects=False)

    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    [broadcast] = broadcasts(db_engine)
    assert (broadcast.status, broadcast.recipients) == ("sending", 3)
    rows = invites(db_engine)
    assert sorted(r.contact_pseudonym for r in rows) == sorted(
        pseudonym(n, staff_settings.secret_key) for n in numbers)
    assert {(r.kind, r.priority, r.broadcast_id) for r in rows} == {("bulk", "low", broadcast.id)}
    assert {r.dedupe_key for r in rows} == {
        f"broadcast:{broadcast.id}:{r.contact_pseudonym}" for r in rows}
    assert Counter(r.provider for r in rows) == {"africastalking": 2, "twilio": 1}
    page = admin.get(first.headers["location"])
    assert count(page.text, "queued") == 3
    audit = admin.get("/staff/audit").text
    assert "poll_launch" in audit and "3 recipients" in audit


def test_a_full_send_reaches_each_number_once_through_the_worker(
    admin, staff_settings, db_engine, phones
):
    stopped = add_contact(db_engine, staff_settings, opted_out=True)
    numbers = [fresh_number() for _ in range(3)]
    text = "Ward budget poll: dial *384*1# or reply POLL."
    progress_page = launch(admin, {"audience": "csv", "numbers": "\n".join([*numbers, stopped]),
                                   "text": text})

    phones.work()
    [broadcast] = broadcasts(db_engine)
    recipients = select_stored_now(db_engine, broadcast)
    with Session(db_engine) as session:  # the invites queued again (a retried job): no new row
        jobs = launching.queue_invites(session, staff_settings, broadcast, recipients,
                                       datetime.now(UTC))
        session.commit()
    assert len(recipients) == 3 and jobs == [] and message_count(db_engine) == 3
    phones.work()

    received = Counter(m["to"] for m in phones.received())
    assert received == Counter(numbers)
    assert {m["text"] for m in phones.received()} == {text}
    status = admin.get(progress_page + "/progress.json").json()
    assert (status["finished"], status["sent"], status["queued"], status["percent"]) == (
        True, 3, 0, 100)
    page = admin.get(progress_page)
    assert 'value="100"' in page.text and "Finished: 3 of 3 done" in page.text
    assert "Cancel the rest" not in page.text


def select_stored_now(engine, broadcast):
    with Session(engine) as session:
        return select_stored(session, broadcast.audience, broadcast.flow,
                             broadcast.id).recipients


def test_cancel_stops_the_invites_not_yet_sent(admin, analyst, db_engine, phones):
    progress_page = launch(admin, {"audience": "csv",
                                   "numbers": "\n".join(fresh_number() for _ in range(4))})
    broadcast_id = progress_page.rsplit("/", 1)[1]

    page = admin.get(progress_page)
    assert analyst.post(f"/staff/broadcasts/{broadcast_id}/cancel",
                        data={"csrf_token": csrf_of(analyst.get(progress_page).text)}
                        ).status_code == 403
    cancelled = admin.post(f"/staff/broadcasts/{broadcast_id}/cancel",
                           data={"csrf_token": csrf_of(page.text)})
    assert "Cancelled: 4 queued invites will not be sent." in cancelled.text
    phones.work()  # the send jobs are still in Redis: they find nothing to claim

    assert phones.received() == []
    after = admin.get(progress_page)
    assert count(after.text, "cancelled") == 4 and count(after.text, "sent") == 0
    assert "Cancelled: 4 of 4 done" in after.text
    assert "broadcast_cancel" in admin.get("/staff/audit").text


def test_a_scheduled_broadcast_waits_for_its_time(admin, staff_settings, db_engine, redis_sync,
                                                   phones):
    numbers = [fresh_number(), fresh_number()]
    zone = staff_settings.staff.time_zone
    assert zone == "Africa/Nairobi"  # settings.toml's: staff type times as they live them
    in_two_hours = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    later = in_two_hours.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")
    shown = preview(admin, {"audience": "csv", "numbers": "\n".join(numbers),
                            "when": "later", "send_at": later})
    assert figure(shown.text, "when") == f"at {later.replace('T', ' ')} (Africa/Nairobi time)"
    progress_page = launch(admin, {"audience": "csv", "numbers": "\n".join(numbers),
                                   "when": "later", "send_at": later})
    [broadcast] = broadcasts(db_engine)
    assert broadcast.status == "scheduled" and broadcast.scheduled_for == in_two_hours
    assert (f"Scheduled for {later.replace('T', ' ')} (Africa/Nairobi time)"
            in admin.get(progress_page).text)

    phones.work()
    assert phones.received() == [] and message_count(db_engine) == 0
    registry = ScheduledJobRegistry("default", connection=redis_sync)
    assert f"broadcast-{broadcast.id}" in registry.get_job_ids()

    # its time comes: RQ's scheduler moves the job to its queue (done here by hand)
    job = Job.fetch(f"broadcast-{broadcast.id}", connection=redis_sync)
    registry.remove(job)
    Queue("default", connection=redis_sync).enqueue_job(job)
    phones.work()
    assert Counter(m["to"] for m in phones.received()) == Counter(numbers)
    settings = load_settings(dict(os.environ))
    assert launching.start(db_engine, redis_sync, settings, broadcast.id) == 0  # once only
    assert "Finished: 2 of 2 done" in admin.get(progress_page).text


def test_a_time_in_the_past_is_refused(admin, db_engine):
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    shown = preview(admin, {"audience": "csv", "numbers": fresh_number(), "when": "later",
                            "send_at": past})
    assert shown.status_code == 400
    assert "pick a time in the future" in shown.text


def test_analysts_cannot_launch_but_can_watch(admin, analyst, db_engine):
    assert analyst.get(LAUNCH).status_code == 403
    token = csrf_of(analyst.get("/staff/").text)
    for step in ("preview", "confirm"):
        response = analyst.post(f"{LAUNCH}/{step}", data={
            "csrf_token": token, "audience": "csv", "numbers": fresh_number(),
            "text": "hi", "when": "now"})
        assert response.status_code == 403
    assert broadcasts(db_engine) == []
    progress_page = launch(admin, {"audience": "csv", "numbers": fresh_number()})
    page = analyst.get(progress_page)
    assert page.status_code == 200 and 'id="broadcast-bar"' in page.text
    assert "Cancel the rest" not in page.text


def test_launch_forms_need_the_csrf_token(admin, db_engine):
    shown = preview(admin, {"audience": "csv", "numbers": fresh_number()})
    form = confirm_form(shown.text)
    for step, data in (("preview", {"audience": "csv", "numbers": fresh_number(), "text": "hi"}),
                       ("confirm", form)):
        assert admin.post(f"{LAUNCH}/{step}", data={**data, "csrf_token": "forged"}
                          ).status_code == 403
    assert broadcasts(db_engine) == []


def test_ten_thousand_listed_numbers_launch_in_one_confirm(admin, db_engine):
    """Correctness at size (one invite each); how fast is measured by `make bench`, not here."""
    csv = "\n".join(f"+2547{n:08d}" for n in range(10_000)).encode()
    shown = preview(admin, {"audience": "csv"}, files={"csv": ("many.csv", csv, PHONE_CSV)})
    form = confirm_form(shown.text)
    response = admin.post(LAUNCH + "/confirm", data={**form, "confirm_cap": "yes"},
                          follow_redirects=False)
    assert response.status_code == 303
    assert message_count(db_engine) == 10_000


def test_a_listed_launch_tags_its_numbers_for_a_later_launch_by_tag(
    admin, staff_settings, db_engine, phones
):
    known = add_contact(db_engine, staff_settings, tags=["elders"])
    listed = [fresh_number(), fresh_number(), known]
    launch(admin, {"audience": "csv", "numbers": "\n".join(listed),
                   "tag_listed": "Youth Forum"})
    add_contact(db_engine, staff_settings, tags=["elders"])  # not on the list

    with Session(db_engine) as session:
        tags = {c.pseudonym: c.tags for c in session.exec(select(Contact)).all()}
    secret = staff_settings.secret_key
    assert tags[pseudonym(known, secret)] == ["elders", "youth forum"]
    assert tags[pseudonym(listed[0], secret)] == ["youth forum"]
    assert "youth forum" in admin.get(LAUNCH).text  # suggested in the form's tag list

    reminder = preview(admin, {"audience": "contacts", "tag": "YOUTH forum", "reinvite": "yes"})
    assert figure(reminder.text, "recipients") == "3"
    elders = preview(admin, {"audience": "contacts", "tag": "elders", "reinvite": "yes"})
    assert figure(elders.text, "recipients") == "2"


def test_a_second_launch_of_the_poll_leaves_out_who_was_invited(admin, db_engine, phones):
    first = [fresh_number(), fresh_number()]
    launch(admin, {"audience": "csv", "numbers": "\n".join(first)})
    phones.work()
    newcomer = fresh_number()

    again = preview(admin, {"audience": "csv", "numbers": "\n".join([*first, newcomer])})
    assert figure(again.text, "recipients") == "1"
    assert figure(again.text, "already-invited") == "2"
    launch(admin, {"audience": "csv", "numbers": "\n".join([*first, newcomer])})
    phones.work()
    assert Counter(m["to"] for m in phones.received()) == Counter([*first, newcomer])

    nobody = preview(admin, {"audience": "csv", "numbers": "\n".join(first)})
    confirmed = admin.post(LAUNCH + "/confirm", data=confirm_form(nobody.text))
    assert confirmed.status_code == 409
    assert "Everyone in this audience was already invited to this poll" in confirmed.text
    assert len(broadcasts(db_engine)) == 2

    reminder = launch(admin, {"audience": "csv", "numbers": "\n".join(first),
                              "reinvite": "yes", "text": "Reminder: dial *384*1#"})
    phones.work()
    reminded = [m["to"] for m in phones.received() if m["text"].startswith("Reminder")]
    assert sorted(reminded) == sorted(first)
    assert "Finished: 2 of 2 done" in admin.get(reminder).text


def test_a_cancelled_invite_does_not_count_as_invited(admin, db_engine, phones):
    numbers = [fresh_number(), fresh_number()]
    progress_page = launch(admin, {"audience": "csv", "numbers": "\n".join(numbers)})
    admin.post(progress_page + "/cancel", data={"csrf_token": csrf_of(admin.get(progress_page)
                                                                      .text)})
    again = preview(admin, {"audience": "csv", "numbers": "\n".join(numbers)})
    assert figure(again.text, "recipients") == "2"
    assert "figure-already-invited" not in again.text
