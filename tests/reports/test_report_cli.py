"""`gateway reports status|list` and `gateway apikey add`, in-process against the test database."""

from __future__ import annotations

import hashlib

import pytest
from sqlmodel import Session, select

from gateway.cli import main
from gateway.models import ApiKey


def test_a_status_change_from_the_cli_texts_the_reporter(desk, capsys):
    number, who = desk.citizen()
    report = desk.report(desk.finish_run(who))

    code = main(["reports", "status", report.reference, "in_progress", "--note", "Crew sent",
                 "--actor", "ann@example.org"])
    assert code == 0, capsys.readouterr().err
    assert f"{report.reference}: in_progress; 1 SMS queued" in capsys.readouterr().out
    assert desk.sent(number)[-1] == f"Report {report.reference}: in progress. Crew sent"

    assert main(["reports", "list", "--status", "in_progress"]) == 0
    listed = capsys.readouterr().out
    assert report.reference in listed and "water" in listed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["R-ZZZZ", "closed"], "no report has the reference R-ZZZZ"),
        (["{ref}", "done"], "unknown status 'done'"),
        (["{ref}", "rejected"], "needs a reason"),
        (["{ref}", "acknowledged", "--note", "x" * 10_000], "at most 300"),
    ],
)
def test_bad_input_from_the_cli_is_a_clear_message_and_changes_nothing(desk, capsys, argv,
                                                                        message):
    number, who = desk.citizen()
    report = desk.report(desk.finish_run(who))
    argv = [part.replace("{ref}", report.reference) for part in argv]
    assert main(["reports", "status", *argv, "--actor", "ann@example.org"]) == 1
    assert message in capsys.readouterr().err
    assert desk.report(report.run_id).status == "submitted"
    assert len(desk.sent(number)) == 1


def test_apikey_add_prints_the_key_once_and_stores_only_its_hash(desk, capsys):
    assert main(["apikey", "add", "county-works"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    with Session(desk.engine) as session:
        key = session.exec(select(ApiKey).where(ApiKey.name == "county-works")).one()
    assert key.key_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in key.key_hash and len(token) >= 40

    assert main(["apikey", "add", "county-works"]) == 1
    assert "exists already" in capsys.readouterr().err
