"""STATUS over SMS, through the webhook: the answer leaves through the outbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sms_support import Texter
from sqlmodel import Session

from gateway.models import Report


def add_report(engine, reference: str, reporter: str) -> None:
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(Report(reference=reference, category="water",
                           ward_code="kisumu-central/railways", description="The tap is dry",
                           reporter_pseudonym=reporter, status="acknowledged",
                           created_at=now, updated_at=now))
        session.commit()


@pytest.mark.parametrize("provider", ["africastalking", "twilio"])
def test_status_by_sms_for_the_reporter_someone_else_and_an_unknown_reference(
    db_engine, client, provider
):
    reporter, stranger = Texter(client, provider), Texter(client, provider)
    add_report(db_engine, "R-7K3Q", reporter.contact)

    assert reporter.reply("STATUS R-7K3Q") == "Report R-7K3Q: acknowledged."
    assert reporter.reply("status r7k3q") == "Report R-7K3Q: acknowledged."
    assert stranger.reply("STATUS R-7K3Q") == "Report R-7K3Q exists. Status: acknowledged."
    assert stranger.reply("STATUS R-0000") == (
        "No report has the reference R-0000. Check it and try again, e.g. STATUS R-7K3Q.")
    assert stranger.reply("HALI R-7K3Q") == "Report R-7K3Q exists. Status: acknowledged."
