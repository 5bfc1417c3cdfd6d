"""Delivery reports move a message forward only: duplicates and late reports change nothing."""

from __future__ import annotations

import pytest
from outbox_support import contact, fresh_number, make_message, message

from gateway.delivery import apply_delivery, apply_report
from gateway.phone import pseudonym


@pytest.mark.parametrize(("provider", "word", "status"), [
    ("africastalking", "Sent", "sent"),
    ("africastalking", "Submitted", "sent"),
    ("africastalking", "Buffered", "sent"),
    ("africastalking", "Success", "delivered"),
    ("africastalking", "Rejected", "failed"),
    ("africastalking", "Failed", "failed"),
    ("twilio", "queued", "sent"),
    ("twilio", "accepted", "sent"),
    ("twilio", "sending", "sent"),
    ("twilio", "sent", "sent"),
    ("twilio", "delivered", "delivered"),
    ("twilio", "undelivered", "failed"),
    ("twilio", "failed", "failed"),
])
def test_each_provider_word_maps_through_the_table(db_engine, settings, provider, word, status):
    row = make_message(db_engine, settings, provider=provider, status="sending",
                       provider_id="P-1")
    assert apply_report(db_engine, provider, "P-1", word) == "applied"
    stored = message(db_engine, row.id)
    assert stored.status == status
    assert (stored.delivered_at is not None) == (status == "delivered")


def test_a_late_sent_never_overwrites_delivered(db_engine, settings):
    row = make_message(db_engine, settings, provider="africastalking", status="sent",
                       provider_id="ATXid_1")
    assert apply_report(db_engine, "africastalking", "ATXid_1", "Success") == "applied"
    assert apply_report(db_engine, "africastalking", "ATXid_1", "Sent") == "unchanged"
    assert apply_report(db_engine, "africastalking", "ATXid_1", "Buffered") == "unchanged"
    assert message(db_engine, row.id).status == "delivered"


def test_a_duplicate_report_changes_nothing(db_engine, settings):
    row = make_message(db_engine, settings, status="sent", provider_id="SM1")
    assert apply_report(db_engine, "twilio", "SM1", "delivered") == "applied"
    first = message(db_engine, row.id)
    assert apply_report(db_engine, "twilio", "SM1", "delivered") == "unchanged"
    assert message(db_engine, row.id).updated_at == first.updated_at


def test_final_statuses_do_not_replace_each_other(db_engine, settings):
    failed = make_message(db_engine, settings, status="sent", provider_id="SM2")
    assert apply_report(db_engine, "twilio", "SM2", "undelivered",
                        error_code="30003", failure_reason="30003 unreachable") == "applied"
    assert apply_report(db_engine, "twilio", "SM2", "delivered") == "unchanged"
    stored = message(db_engine, failed.id)
    assert (stored.status, stored.failure_reason) == ("failed", "30003: 30003 unreachable")

    delivered = make_message(db_engine, settings, status="delivered", provider_id="SM3")
    assert apply_report(db_engine, "twilio", "SM3", "failed") == "unchanged"
    assert message(db_engine, delivered.id).status == "delivered"


def test_the_providers_failure_reason_is_kept(db_engine, settings):
    row = make_message(db_engine, settings, provider="africastalking", status="sent",
                       provider_id="ATXid_2")
    apply_report(db_engine, "africastalking", "ATXid_2", "Failed",
                 failure_reason="UserInBlacklist")
    assert message(db_engine, row.id).failure_reason == "UserInBlacklist"


def test_an_unknown_id_or_word_is_ignored(db_engine, settings):
    row = make_message(db_engine, settings, status="sent", provider_id="SM4")
    assert apply_report(db_engine, "twilio", "SM-nobody", "delivered") == "unknown_message"
    assert apply_report(db_engine, "africastalking", "SM4", "Success") == "unknown_message"
    assert apply_report(db_engine, "twilio", "SM4", "teleported") == "unknown_status"
    assert message(db_engine, row.id).status == "sent"


def test_twilio_21610_stops_the_contact(db_engine, settings):
    number = fresh_number()
    make_message(db_engine, settings, number=number, status="sent", provider_id="SM5")
    apply_report(db_engine, "twilio", "SM5", "failed", error_code="21610")
    stopped = contact(db_engine, settings, number)
    assert stopped is not None and stopped.opted_out and stopped.opted_out_at is not None


def test_a_parsed_report_applies_too(db_engine, settings):
    from gateway.channels import twilio

    number = fresh_number()
    row = make_message(db_engine, settings, number=number, status="sent", provider_id="SM6")
    report = twilio.parse_status({
        "MessageSid": "SM6", "MessageStatus": "undelivered", "ErrorCode": "21610",
        "To": number, "From": "+15005550006", "AccountSid": "AC" + "0" * 32,
    })
    assert apply_delivery(db_engine, report) == "applied"
    assert message(db_engine, row.id).status == "failed"
    stopped = contact(db_engine, settings, number)
    assert stopped is not None and stopped.opted_out


def test_a_report_before_the_id_was_recorded_matches_by_recipient(db_engine, settings):
    number = fresh_number()
    row = make_message(db_engine, settings, number=number, provider="africastalking",
                       status="sending")
    who = pseudonym(number, settings.secret_key)
    assert apply_report(db_engine, "africastalking", "ATXid_9", "Success",
                        contact_pseudonym=who) == "applied"
    stored = message(db_engine, row.id)
    assert (stored.status, stored.provider_id) == ("delivered", "ATXid_9")


def test_two_candidates_for_an_early_report_are_left_alone(db_engine, settings):
    number = fresh_number()
    rows = [make_message(db_engine, settings, number=number, provider="africastalking",
                         status="unknown") for _ in range(2)]
    who = pseudonym(number, settings.secret_key)
    assert apply_report(db_engine, "africastalking", "ATXid_10", "Success",
                        contact_pseudonym=who) == "unknown_message"
    assert [message(db_engine, r.id).status for r in rows] == ["unknown", "unknown"]
