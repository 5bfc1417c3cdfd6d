"""`kill -9` a worker in the middle of a 5,000-invite broadcast: every invite reaches the
provider exactly once.

The broadcast is launched the way the staff page does it, to contacts on both providers
(Africa's Talking takes 100 numbers per call, Twilio one). The worker, its work horse and its
scheduler are killed together (as when a machine or a container dies), twice, each time while
a provider call is in flight (the emulator holds that one call for a few seconds), and a
fresh worker is started each time. The emulator's JSONL file counts what reached "the
provider".
"""

from __future__ import annotations

import time

import pytest

from gateway.config import load_settings

from .conftest import (
    all_settled,
    fault_environ,
    figures,
    launch_broadcast,
    seed_contacts,
    statuses,
    wait_for,
)

pytestmark = [pytest.mark.fault, pytest.mark.slow]

AT_CONTACTS, TWILIO_CONTACTS = 4900, 100
HOLD_SECONDS = 4.0  # the emulator answers the chosen call this late: the kill lands inside it


def test_kill_9_mid_broadcast_sends_each_invite_once(
    processes, emulator, private_redis, database_url, db_engine, tmp_path,
):
    server = private_redis()
    env = fault_environ(redis_url=server.url, database_url=database_url, tmp_path=tmp_path,
                        emulator_url=emulator.url)
    env.update({"GATEWAY_AFRICASTALKING_TIMEOUT_SECONDS": "5",  # longer than the hold
                "GATEWAY_TWILIO_TIMEOUT_SECONDS": "5", "GATEWAY_OUTBOX_SEND_LEASE_SECONDS": "6"})
    settings = load_settings(env)
    # Twilio's contacts first: their invites go first, so the last kill is in the middle of
    # Africa's Talking's calls, and its "unknown" verdict comes while the rest still sends.
    numbers = seed_contacts(db_engine, settings,
                            {"twilio": TWILIO_CONTACTS, "africastalking": AT_CONTACTS})
    total = len(numbers)
    victims = {"twilio": numbers[TWILIO_CONTACTS // 2],  # half-way through Twilio
               "africastalking": numbers[TWILIO_CONTACTS + AT_CONTACTS // 3]}  # a third into AT
    for provider, number in victims.items():
        emulator.fault("slow", provider=provider, to=number, seconds=HOLD_SECONDS)

    worker = processes.worker(env)
    started = time.monotonic()
    launch_broadcast(db_engine, server.client(), settings)
    kills = []
    for provider, number in victims.items():
        wait_for(lambda number=number: emulator.holding(number), 60,
                 f"the {provider} call to be in flight")
        kills.append((provider, len(emulator.sent()), worker.kill_tree()))
        worker = processes.worker(env)

    wait_for(lambda: all_settled(db_engine, total), 60, "every invite to settle")
    elapsed = time.monotonic() - started
    found, lost, unknown = figures(db_engine, emulator)
    where = ", ".join(f"{p} at {n} sends ({k} processes)" for p, n, k in kills)
    print(f"\nkill -9 in a provider call: {where}")
    print(f"broadcast of {total}: {found} in {elapsed:.1f} s; outbox {dict(statuses(db_engine))}")

    # Every invite reached the provider exactly once, through both kills.
    assert (found.sent, found.unique, found.lost, found.doubled) == (total, total, 0, 0)
    # Twilio can be asked whether it took the interrupted message, so nothing is left unsure;
    # Africa's Talking cannot: the recipients of the interrupted call are flagged "unknown"
    # for a person to look at (they did get it, as the emulator shows).
    twilio_numbers = set(numbers[:TWILIO_CONTACTS])
    assert victims["africastalking"] in unknown and not unknown & twilio_numbers
    assert len(unknown) <= settings.outbox.batch_size
