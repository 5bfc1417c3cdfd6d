"""Flows over SMS, as transcripts: what a citizen texted and the reply queued for them.

Every step is one SMS and a reply answers it; STOP, START and HELP work from inside any flow.
Runs end up in the same results as USSD runs, with channel "sms".
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sms_support import Texter, queued
from sqlmodel import Session, select
from starlette.testclient import TestClient

from gateway import results
from gateway.app import create_app
from gateway.channels.base import InboundSms
from gateway.models import Contact, FlowRun, InboundMessage
from gateway.runs import drain_outbox
from gateway.sms import conversation
from gateway.sms.sessions import DEADLINES, run_key, sweep_expired

PROVIDERS = ["africastalking", "twilio"]

PRIORITY_EN = """Which project should your ward fund first?
1. Water kiosks
2. Borehole repair
3. Street lights
4. Murram access roads
5. Drainage
6. Market stalls & shade
7. Health centre drugs
8. Maternity wing
9. ECDE classrooms
10. Youth bursaries
11. Rubbish collection
Reply with a number."""
AGE_EN = """How old are you?
1. Under 18
2. 18-24
3. 25-34
4. 35-49
5. 50-64
6. 65 or older
Reply with a number."""
WARD_EN = """Which ward do you live in?
1. Railways
2. Migosi
3. Shaurimoyo Kaloleni
4. Market Milimani
5. Kondele
6. Nyalenda B
7. Another ward
Reply with a number."""
COMMENT_EN = "Any comment for the county? Up to 80 letters. Reply 0 to skip."
CONFIRM_EN = """Priority: Water kiosks. Ward: Kondele. Send your vote?
1. Send
2. Start again
Reply with a number."""
SURVEY_EN = ("In the last 3 months, did you visit a county service "
             "(health centre, water office...)?")
SURVEY_FR = "Ces 3 derniers mois, avez-vous utilisé un service du comté (centre de santé, eau...) ?"
THANKS_EN = ("Thank you! Your vote for Water kiosks is recorded. "
             "The county will share the results.")
HELP_EN = ("Text POLL, SURVEY, REPORT to take part. "
           "Text STOP to get no more messages, START to get them again.")
UNKNOWN_EN = "Sorry, we did not understand. Text POLL, SURVEY, REPORT to take part, or HELP."
STOPPED_EN = "You will get no more messages from us. Text START to get them again."
STARTED_EN = (
    "Welcome back, you will get our messages again. Text POLL, SURVEY, REPORT to take part."
)

# The whole poll in English: each line is (what the citizen texted, the reply queued).
BUDGET_EN = [
    ("POLL", PRIORITY_EN),
    ("1", AGE_EN),
    ("2", WARD_EN),
    ("5", COMMENT_EN),
    ("More lights near the market", CONFIRM_EN),
    ("1", THANKS_EN),
]


def play(texter: Texter, transcript: list[tuple[str, str]]) -> None:
    for typed, expected in transcript:
        assert texter.reply(typed) == expected, f"after {typed!r}"


def runs(client: TestClient, redis_sync) -> list[FlowRun]:
    engine = client.app.state.runtime.engine
    drain_outbox(redis_sync, engine)
    with Session(engine) as session:
        return list(session.exec(select(FlowRun).order_by(FlowRun.started_at)))


def open_run(redis_sync, texter: Texter) -> dict | None:
    raw = redis_sync.get(run_key(texter.contact))
    return json.loads(raw) if raw else None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_poll_over_sms_lands_in_the_results_tagged_sms(
    db_engine, client, redis_sync, provider
):
    texter = Texter(client, provider)
    play(texter, BUDGET_EN)
    assert open_run(redis_sync, texter) is None
    (run,) = runs(client, redis_sync)
    assert (run.flow, run.channel, run.status, run.language) == ("budget", "sms", "completed", "en")
    assert run.answers == {"priority": "water_kiosks", "age": "18_24", "ward": "kondele",
                           "comment": "More lights near the market", "confirm": "submit"}
    assert run.contact_pseudonym == texter.contact and run.hops == 6


@pytest.mark.parametrize(
    ("keyword", "first_line"),
    [
        ("POLL", "Which project should your ward fund first?"),
        ("KURA", "Wadi yako ifadhili mradi upi kwanza?"),
        ("SURVEY", SURVEY_EN),
        ("UTAFITI", "Katika miezi 3 iliyopita, ulitembelea huduma ya kaunti (kituo cha afya, "
                    "ofisi ya maji...)?"),
        ("SONDAGE", SURVEY_FR),
        ("kúra", "Wadi yako ifadhili mradi upi kwanza?"),  # any case, accents ignored
        ("  Poll! ", "Which project should your ward fund first?"),
        ("sondage svp", SURVEY_FR),  # the first word
    ],
)
def test_a_keyword_in_each_language_asks_the_first_question_in_it(client, keyword, first_line):
    assert Texter(client).reply(keyword).split("\n")[0] == first_line


def test_a_keyword_without_a_language_keeps_the_remembered_one(client):
    texter = Texter(client)
    texter.reply("SONDAGE")  # French, remembered
    texter.reply("STOP")
    texter.reply("START")
    assert texter.reply("VOTE").startswith("Quel projet financer en priorité ?\n")


def test_a_new_contact_texting_a_keyword_without_a_language_gets_the_picker(client):
    # "Français" leaves as "Francais": sms.transliterate keeps the reply GSM-7
    assert Texter(client).reply("VOTE") == (
        "Language / Lugha / Langue:\n1. English\n2. Kiswahili\n3. Francais\nReply with a number.")


@pytest.mark.parametrize(
    ("answer", "saved"),
    [("1", "water_kiosks"), ("water kiosks", "water_kiosks"), ("  STREET lights ", "street_lights"),
     ("Vioski vya maji", "water_kiosks"), ("11", "waste_collection")],
)
def test_a_choice_is_answered_by_number_or_by_word(client, redis_sync, answer, saved):
    texter = Texter(client)
    texter.reply("POLL")
    assert texter.reply(answer) == AGE_EN
    assert open_run(redis_sync, texter)["s"]["a"] == {"priority": saved}


@pytest.mark.parametrize("wrong", ["99", "0", "maji", "", "12"])
def test_an_invalid_answer_reprompts_and_saves_nothing(client, redis_sync, wrong):
    texter = Texter(client)
    texter.reply("POLL")
    texter.reply("1")
    assert texter.reply(wrong) == "Please choose a number from the list.\n" + AGE_EN
    assert open_run(redis_sync, texter)["s"]["a"] == {"priority": "water_kiosks"}
    assert texter.reply("2") == WARD_EN


def test_three_invalid_answers_end_the_run_as_failed(client, redis_sync):
    texter = Texter(client)
    texter.reply("POLL")
    texter.reply("x")
    texter.reply("y")
    assert texter.reply("z") == (
        "Sorry, we could not read your answers. Please dial again later.")
    (run,) = runs(client, redis_sync)
    assert (run.status, run.channel) == ("failed", "sms")


def test_a_free_text_answer_that_starts_with_a_keyword_stays_an_answer(client, redis_sync):
    texter = Texter(client)
    play(texter, BUDGET_EN[:4])
    assert texter.reply("Vote for more lights") == CONFIRM_EN
    assert open_run(redis_sync, texter)["s"]["a"]["comment"] == "Vote for more lights"


def test_a_keyword_alone_inside_a_flow_starts_that_flow_and_closes_the_other(client, redis_sync):
    texter = Texter(client)
    play(texter, BUDGET_EN[:3])
    assert texter.reply("SURVEY").startswith(SURVEY_EN + "\n")
    assert open_run(redis_sync, texter)["s"]["f"] == "survey"
    (old,) = runs(client, redis_sync)
    assert (old.flow, old.status, old.answers) == (
        "budget", "incomplete", {"priority": "water_kiosks", "age": "18_24"})


def test_a_keyword_for_a_flow_not_shipped_yet_gets_the_help_and_breaks_nothing(
    settings, redis_sync, caplog
):
    keywords = {**settings.sms.keywords, "FIXIT": "fixit:en"}
    sms = dataclasses.replace(settings.sms, keywords=keywords)
    with TestClient(create_app(dataclasses.replace(settings, sms=sms))) as client:
        texter = Texter(client)
        assert texter.reply("FIXIT a broken pipe") == UNKNOWN_EN
        assert open_run(redis_sync, texter) is None
    assert "keyword for flow 'fixit', which does not exist" in caplog.text


# --- expiry --------------------------------------------------------------------------------------


def short_sessions(settings, **sms):
    return dataclasses.replace(settings, sms=dataclasses.replace(settings.sms, **sms))


def test_an_sms_session_lives_as_long_as_the_settings_say(settings, redis_sync):
    with TestClient(create_app(short_sessions(settings, session_ttl_seconds=3600))) as client:
        texter = Texter(client)
        texter.reply("POLL")
    assert 3600 < redis_sync.ttl(run_key(texter.contact)) <= 3600 + 86400
    deadline = redis_sync.zscore(DEADLINES, texter.contact)
    assert abs(deadline - (time.time() + 3600)) < 5


def test_the_sweeper_records_an_expired_session_as_incomplete(client, redis_sync):
    texter = Texter(client)
    play(texter, BUDGET_EN[:2])
    ttl = client.app.state.runtime.settings.sms.session_ttl_seconds
    assert sweep_expired(redis_sync, time.time() + ttl - 5, ttl) == 0  # not yet
    assert sweep_expired(redis_sync, time.time() + ttl + 1, ttl) == 1
    assert open_run(redis_sync, texter) is None and not redis_sync.zcard(DEADLINES)
    (run,) = runs(client, redis_sync)
    assert (run.status, run.channel, run.answers) == (
        "incomplete", "sms", {"priority": "water_kiosks"})


def test_an_answer_after_expiry_is_not_taken_as_an_answer(settings, redis_sync):
    with TestClient(create_app(short_sessions(settings, session_ttl_seconds=1))) as client:
        texter = Texter(client)
        texter.reply("POLL")
        time.sleep(1.2)
        assert texter.reply("1") == UNKNOWN_EN  # the session is gone: "1" is no keyword
        (run,) = runs(client, redis_sync)
    assert (run.status, run.answers) == ("incomplete", {})


def test_the_worker_loop_sweeps_expired_sms_sessions(settings, redis_sync, db_engine):
    from gateway.worker import run_once

    with TestClient(create_app(short_sessions(settings, session_ttl_seconds=1))) as client:
        texter = Texter(client)
        play(texter, BUDGET_EN[:2])
    time.sleep(1.2)
    run_once(redis_sync, db_engine, settings.ussd.resume_window_seconds, sms_ttl=1)
    with Session(db_engine) as session:
        (run,) = session.exec(select(FlowRun)).all()
    assert (run.channel, run.status) == ("sms", "incomplete")
    assert run.answers == {"priority": "water_kiosks"}


# --- help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_text_gets_the_help_once_not_twice_in_a_day(client, provider):
    texter = Texter(client, provider)
    assert texter.text("hello") == [UNKNOWN_EN]
    assert texter.text("hello?") == []
    assert texter.text("are you a robot") == []


def test_the_help_goes_again_once_the_interval_has_passed(client):
    texter = Texter(client)
    assert texter.text("hello") == [UNKNOWN_EN]
    with Session(client.app.state.runtime.engine) as session:
        contact = session.exec(select(Contact).where(Contact.pseudonym == texter.contact)).one()
        contact.help_sent_at = datetime.now(UTC) - timedelta(hours=25)
        session.add(contact)
        session.commit()
    assert texter.text("hello") == [UNKNOWN_EN]


@pytest.mark.parametrize(
    ("word", "language", "first_line"),
    [("HELP", "en", HELP_EN),
     ("msaada", "sw",
      "Tuma KURA, UTAFITI, RIPOTI kushiriki. Tuma ACHA kusitisha ujumbe wote, ANZA kuupata tena."),
     ("Aide.", "fr", "Envoyez VOTE, SONDAGE, SIGNALER pour participer. "
                     "Envoyez STOP pour ne plus recevoir "
                     "de messages, START pour les recevoir à nouveau.")],
)
def test_help_lists_the_keywords_of_the_contacts_language_and_how_to_stop(
    client, word, language, first_line
):
    texter = Texter(client)
    texter.reply({"en": "POLL", "sw": "KURA", "fr": "SONDAGE"}[language])
    texter.reply("STOP")
    texter.reply("START")
    assert texter.reply(word) == first_line
    assert texter.reply(word) == first_line  # asked for, so not limited to once a day


def test_help_inside_a_flow_repeats_the_question_and_keeps_the_answers(client, redis_sync):
    texter = Texter(client)
    play(texter, BUDGET_EN[:2])
    before = open_run(redis_sync, texter)["s"]
    assert texter.reply("help") == f"{HELP_EN}\n\n{AGE_EN}"
    assert open_run(redis_sync, texter)["s"] == before
    play(texter, BUDGET_EN[2:])
    (run,) = runs(client, redis_sync)
    assert run.status == "completed"


# --- STOP and START ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stop", ["STOP", "stop", "Acha", "SITISHA", "arrêt", "Arret!", "END"])
def test_stop_in_the_middle_of_a_flow_confirms_once_and_then_silence_until_start(
    client, redis_sync, provider, stop
):
    texter = Texter(client, provider)
    play(texter, BUDGET_EN[:3])
    (confirmation,) = texter.send(stop)
    assert (confirmation.text, confirmation.kind, confirmation.priority) == (
        STOPPED_EN, "notice", "high")
    assert open_run(redis_sync, texter) is None
    (run,) = runs(client, redis_sync)
    assert (run.status, run.answers) == ("incomplete", {"priority": "water_kiosks", "age": "18_24"})

    for typed in ["3", "POLL", "HELP", "hello", stop]:
        assert texter.text(typed) == [], typed
    assert open_run(redis_sync, texter) is None

    assert texter.text("START") == [STARTED_EN]
    assert texter.reply("POLL") == PRIORITY_EN


def test_after_stop_the_outbox_refuses_anything_but_the_confirmation(client):
    from gateway.outbox import NewMessage, add_message

    texter = Texter(client)
    texter.reply("STOP")
    runtime = client.app.state.runtime
    with Session(runtime.engine) as session:
        invite = add_message(session, runtime.settings, NewMessage(
            texter.contact, texter.phone, "africastalking", "New poll: text POLL", kind="bulk"))
        session.commit()
        assert (invite.status, invite.failure_reason) == ("failed", "opted out")
    with Session(runtime.engine) as session:
        contact = session.exec(select(Contact).where(Contact.pseudonym == texter.contact)).one()
    assert contact.opted_out and contact.opted_out_at is not None


def test_stop_is_a_whole_message_not_a_word_inside_an_answer(client, redis_sync):
    texter = Texter(client)
    play(texter, BUDGET_EN[:4])
    assert texter.reply("the flooding must stop") == CONFIRM_EN
    with Session(client.app.state.runtime.engine) as session:
        contact = session.exec(select(Contact).where(Contact.pseudonym == texter.contact)).one()
    assert not contact.opted_out


def test_start_from_a_contact_who_never_stopped_gets_the_help(client, redis_sync):
    texter = Texter(client)
    play(texter, BUDGET_EN[:2])
    assert texter.reply("START") == f"{HELP_EN}\n\n{AGE_EN}"
    assert texter.reply("2") == WARD_EN


def test_start_in_swahili_confirms_in_swahili(client):
    texter = Texter(client)
    texter.reply("KURA")
    texter.reply("ACHA")
    assert texter.reply("ANZA") == (
        "Karibu tena, utapokea ujumbe wetu tena. Tuma KURA, UTAFITI, RIPOTI kushiriki.")


# --- what citizens type --------------------------------------------------------------------------


HOSTILE = [
    ("nul bytes", "lights\x00\x00 please", "lights please"),
    ("control characters", "a\x07b\x1bc\x7fd\x85e", "a b c d e"),
    ("a formula", "=HYPERLINK(\"http://x\",\"win\")", "=HYPERLINK(\"http://x\",\"win\")"),
    ("a plus formula", "+254 call me", "+254 call me"),
    ("markup", "<script>alert(1)</script>", "<script>alert(1)</script>"),
    ("emoji", "💡💡 more light 💡", "💡💡 more light 💡"),
]


@pytest.mark.parametrize(("typed", "saved"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_nothing_a_citizen_types_breaks_the_flow_or_the_export(
    db_engine, client, redis_sync, typed, saved
):
    texter = Texter(client)
    play(texter, BUDGET_EN[:4])
    assert texter.reply(typed) == CONFIRM_EN
    assert texter.reply("1") == THANKS_EN
    (run,) = runs(client, redis_sync)
    assert run.answers["comment"] == saved

    out = io.StringIO()
    assert results.main(client.app.state.runtime.settings, "budget", "csv", out=out) == 0
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    expected = "'" + saved if saved[0] in "=+-@" else saved  # a spreadsheet must not run it
    assert row["comment"] == expected


def test_a_long_free_text_answer_is_refused_with_the_limit_not_stored(client, redis_sync):
    texter = Texter(client)
    play(texter, BUDGET_EN[:4])
    assert texter.reply("x" * 500) == "Please use at most 80 characters.\n" + COMMENT_EN
    assert "comment" not in open_run(redis_sync, texter)["s"]["a"]


def test_ten_kilobytes_of_text_are_cut_to_the_limit_and_the_flow_goes_on(client, redis_sync):
    """Providers cap an SMS at 1,600 characters; the host copes with more (the webhook's body
    limit answers 413 first, see test_sms_inbound)."""
    runtime = client.app.state.runtime
    texter = Texter(client)
    play(texter, BUDGET_EN[:4])
    sms = InboundSms("africastalking", "ATXid_big", texter.phone, "21345", "y" * 10_000 + "\x00")
    received = client.portal.call(conversation.receive, runtime, sms)
    assert [reply.text for reply in received.replies] == [
        "Please use at most 80 characters.\n" + COMMENT_EN]
    with Session(runtime.engine) as session:
        row = session.exec(
            select(InboundMessage).where(InboundMessage.provider_id == "ATXid_big")).one()
    assert (len(row.text), row.truncated, row.original_length) == (1600, True, 10_001)
    texter.seen = queued(client, texter.phone)[-1].id
    assert texter.reply("Fix the lights") == CONFIRM_EN


# --- at the same moment --------------------------------------------------------------------------


def burst(client: TestClient, phone: str, texts: list[str]) -> list[conversation.Received]:
    """Messages of one contact processed concurrently, as a provider may post them."""
    runtime = client.app.state.runtime

    async def all_at_once() -> list[conversation.Received]:
        return await asyncio.gather(*(
            conversation.receive(runtime, InboundSms(
                "africastalking", f"ATXid_burst{n}", phone, "21345", text))
            for n, text in enumerate(texts)
        ))

    return client.portal.call(all_at_once)


def test_a_new_contact_texting_many_times_at_once_gets_one_help(db_engine, client):
    texter = Texter(client)
    received = burst(client, texter.phone, ["hello"] * 8)
    assert sorted(len(r.replies) for r in received) == [0] * 7 + [1]
    with Session(db_engine) as session:
        assert len(session.exec(select(Contact)).all()) == 1
        assert len(session.exec(select(InboundMessage)).all()) == 8


def test_answers_arriving_at_once_are_applied_one_after_the_other(db_engine, client, redis_sync):
    texter = Texter(client)
    texter.reply("POLL")
    received = burst(client, texter.phone, ["1"] * 4)
    firsts = sorted(r.replies[0].text.split("\n")[0] for r in received)
    assert firsts == sorted([AGE_EN.split("\n")[0], WARD_EN.split("\n")[0], COMMENT_EN,
                             CONFIRM_EN.replace("Kondele", "Railways").split("\n")[0]
                             .replace("Water kiosks", "Water kiosks")])
    run = open_run(redis_sync, texter)
    assert run["s"]["a"] == {"priority": "water_kiosks", "age": "under_18", "ward": "railways",
                             "comment": "1"}
    assert run["n"] == 5
