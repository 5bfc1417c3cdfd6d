"""`gateway simulate`: a citizen in the terminal sees exactly what the webhook would send."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
from pathlib import Path

import pytest
from sqlmodel import Session, select
from transcript import load_transcripts

from gateway.db import make_engine
from gateway.models import FlowRun, InboundMessage, OutboundMessage
from gateway.sessions import OUTBOX
from gateway.simulate import main

TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"


def args(**given) -> argparse.Namespace:
    values = {"flow": None, "code": None, "channel": "ussd", "phone": None, "lang": None}
    return argparse.Namespace(**{**values, **given})


def play(settings, typed: list[str], **given) -> tuple[int, str]:
    out = io.StringIO()
    code = main(settings, args(**given), stdin=io.StringIO("".join(f"{t}\n" for t in typed)),
                stdout=out)
    return code, out.getvalue()


def expected_output(transcript) -> str:
    """The transcript's screens, each followed by the prompt the terminal shows."""
    parts = []
    for hop in transcript.hops:
        parts.append(hop.screen + "\n")
        if not hop.screen.startswith("END "):
            parts.append("> ")
    return "".join(parts)


def test_a_simulated_citizen_sees_the_golden_transcript(settings, redis_sync):
    (first, *_) = load_transcripts(TRANSCRIPTS / "budget.en.txt")
    typed = [hop.typed for hop in first.hops[1:]]
    code, output = play(settings, typed, code=first.dial)
    assert code == 0
    assert output == expected_output(first)
    (entry,) = [json.loads(raw) for raw in redis_sync.lrange(OUTBOX, 0, -1)]
    assert entry["simulated"] is True and entry["status"] == "completed"


def test_flow_and_language_pick_the_code_and_skip_the_picker(settings, redis_sync):
    code, output = play(settings, [], flow="budget", lang="sw", phone="0722000111")
    assert code == 0
    assert output.startswith("CON Wadi yako ifadhili mradi upi kwanza?\n")
    assert output.endswith("> \n(hung up)\n")


def test_over_sms_the_keyword_goes_first_and_each_line_is_one_sms(settings, redis_sync):
    code, output = play(settings, ["1", "2", "5", "0", "1"], flow="budget", channel="sms")
    assert code == 0
    assert output.startswith(
        "> POLL\nWhich project should your ward fund first?\n1. Water kiosks\n")
    assert "11. Rubbish collection\nReply with a number.\n> How old are you?\n" in output
    assert output.endswith("> Thank you! Your vote for Water kiosks is recorded. "
                           "The county will share the results.\n")
    (entry,) = [json.loads(raw) for raw in redis_sync.lrange(OUTBOX, 0, -1)]
    assert (entry["channel"], entry["simulated"], entry["status"]) == ("sms", True, "completed")
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:  # nothing queued, nothing recorded as received
            assert session.exec(select(OutboundMessage)).all() == []
            assert session.exec(select(InboundMessage)).all() == []
    finally:
        engine.dispose()


def test_over_sms_the_language_picks_the_keyword(settings, redis_sync):
    code, output = play(settings, ["STOP"], flow="survey", channel="sms", lang="sw")
    assert code == 0
    assert output.startswith("> UTAFITI\nKatika miezi 3 iliyopita")
    assert output.endswith("> Hutapokea ujumbe zaidi kutoka kwetu. Tuma ANZA kuupata tena.\n")


def test_over_sms_the_end_of_input_ends_the_conversation(settings, redis_sync):
    code, output = play(settings, ["1"], flow="budget", channel="sms")
    assert code == 0 and output.endswith("> \n(stopped texting)\n")


def test_over_sms_a_service_code_makes_no_sense(settings, capsys):
    assert play(settings, [], code="*384*1#", channel="sms") == (2, "")
    assert capsys.readouterr().err.strip() == (
        "simulate: --channel sms needs --flow (service codes are USSD only)")


@pytest.mark.parametrize(
    ("given", "message"),
    [({"flow": "nosuchflow"}, "simulate: unknown flow 'nosuchflow'"),
     ({"flow": "budget", "phone": "abc"}, "simulate: --phone is not a valid phone number")],
)
def test_bad_arguments_exit_2(settings, capsys, given, message):
    assert play(settings, [], **given) == (2, "")
    assert capsys.readouterr().err.strip() == message


def test_without_redis_url_a_temporary_redis_is_used_and_the_run_is_stored(settings, tmp_path):
    settings = dataclasses.replace(settings, redis_url=None)
    (first, *_) = load_transcripts(TRANSCRIPTS / "budget.en.txt")
    code, output = play(settings, [hop.typed for hop in first.hops[1:]], flow="budget")
    assert (code, output) == (0, expected_output(first))
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            (run,) = session.exec(select(FlowRun)).all()
    finally:
        engine.dispose()
    assert (run.status, run.simulated) == ("completed", True)


def test_an_unsupported_language_exits_2(settings, capsys):
    assert play(settings, [], flow="budget", lang="xx") == (2, "")
    assert capsys.readouterr().err.strip() == "simulate: --lang must be one of en, sw, fr"


def test_redis_down_is_a_message_not_a_traceback(settings, capsys):
    settings = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    assert play(settings, [], flow="budget") == (1, "")
    assert capsys.readouterr().err.startswith("simulate: redis unavailable (")
