"""Faults: the next n matching sends fail the chosen way, then sends work again.

Each kind is checked through the real SDK of each provider and its classification printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from emulator_support import emulated, sms_settings

from gateway.channels import CHANNELS
from gateway.channels.base import OutgoingSms, SendResult, TransportError
from gateway.config import Settings
from gateway.emulator.client import EmulatorError
from gateway.emulator.faults import FaultBook, parse_fault

NUMBER = "+254711000001"

# kind -> (what the send gives, permanent?) for each provider.
EXPECTED = {
    "429": ("raised", False),
    "500": ("raised", False),
    "slow": ("raised", False),
    "optout": ("failed", True),
    "invalid": ("failed", True),
    "blacklist": ("failed", True),
    "undelivered": ("sent", False),  # accepted; the delivery report says it failed
}


def outcome(provider: str, settings: Settings, message: OutgoingSms) -> tuple[str, bool, str]:
    try:
        [result] = CHANNELS[provider].send_sms(settings, [message])
    except TransportError as error:
        return "raised", error.permanent, error.reason
    assert isinstance(result, SendResult)
    return result.status, result.permanent, result.reason


@pytest.mark.parametrize("provider", ["africastalking", "twilio"])
@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_fault_kind_is_classified(tmp_path: Path, provider: str, kind: str) -> None:
    env = {f"GATEWAY_{provider.upper()}_TIMEOUT_SECONDS": "0.3"}
    with emulated(sms_settings(tmp_path, **env), tmp_path) as emulator:
        emulator.client.fault(kind, provider=provider, count=2, seconds=0.6)
        first = outcome(provider, emulator.settings, OutgoingSms(1, NUMBER, "one"))
        second = outcome(provider, emulator.settings, OutgoingSms(2, NUMBER, "two"))
        third = outcome(provider, emulator.settings, OutgoingSms(3, NUMBER, "three"))
        left = emulator.client.faults()

    print(f"{provider} {kind}: {first[0]} permanent={first[1]} reason={first[2]!r}")
    assert first[:2] == second[:2] == EXPECTED[kind]
    assert third[0] == "sent" and left == []


def test_a_fault_for_one_number_spares_the_others(tmp_path: Path) -> None:
    with emulated(sms_settings(tmp_path), tmp_path) as emulator:
        emulator.client.fault("500", to="+254711000002")
        spared = outcome("twilio", emulator.settings, OutgoingSms(1, NUMBER, "x"))
        hit = outcome("twilio", emulator.settings, OutgoingSms(2, "+254711000002", "x"))

    assert spared[0] == "sent" and hit[:2] == ("raised", False)


def test_a_fault_for_one_provider_spares_the_other(tmp_path: Path) -> None:
    with emulated(sms_settings(tmp_path), tmp_path) as emulator:
        emulator.client.fault("429", provider="twilio")
        spared = outcome("africastalking", emulator.settings, OutgoingSms(1, NUMBER, "x"))
        hit = outcome("twilio", emulator.settings, OutgoingSms(2, NUMBER, "x"))

    assert spared[0] == "sent" and hit[0] == "raised"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"kind": "meteor"}, "kind must be one of"),
        ({"kind": "429", "provider": "vodacom"}, "provider must be one of"),
        ({"kind": "429", "count": 0}, "count must be a positive whole number"),
        ({"kind": "slow", "seconds": 999}, "seconds must be from 0 to 120"),
        ({"kind": "429", "to": ""}, "to must be a phone number"),
    ],
)
def test_nonsense_faults_are_refused(tmp_path: Path, body: dict, error: str) -> None:
    with emulated(sms_settings(tmp_path), tmp_path) as emulator:
        with pytest.raises(EmulatorError, match=error):
            emulator.client.fault(**{"provider": "*", **body})
        assert emulator.client.faults() == []


def test_faults_are_used_first_in_first_out_and_can_be_cleared() -> None:
    book = FaultBook()
    book.add(parse_fault({"kind": "429", "count": 1}))
    book.add(parse_fault({"kind": "500", "count": 2, "provider": "twilio"}))

    taken = [book.take("twilio", ("429", "500"), [NUMBER]) for _ in range(3)]
    book.add(parse_fault({"kind": "slow"}))
    book.clear()

    assert [f.kind if f else None for f in taken] == ["429", "500", "500"]
    assert book.pending() == [] and book.take("twilio", ("slow",), [NUMBER]) is None
