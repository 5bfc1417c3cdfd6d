"""Fixtures for the flow engine's tests: fixture flows only, no Redis, no database.

The engine is pure, so these tests need nothing from tests/conftest.py; they read the small
flows under fixtures/ (good/ must pass the checker, broken/ hold one problem kind each).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from gateway.flows import engine
from gateway.flows.check import load_checked
from gateway.flows.engine import Turn
from gateway.flows.model import Flow
from gateway.flows.texts import SystemTexts

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "good"
BROKEN = FIXTURES / "broken"

Transcript = Sequence[tuple[str, str]]


@pytest.fixture(scope="session")
def good() -> tuple[dict[str, Flow], SystemTexts]:
    return load_checked(GOOD)


@pytest.fixture(scope="session")
def texts(good: tuple[dict[str, Flow], SystemTexts]) -> SystemTexts:
    return good[1]


@pytest.fixture(scope="session")
def market(good: tuple[dict[str, Flow], SystemTexts]) -> Flow:
    return good[0]["market"]


@pytest.fixture(scope="session")
def wards(good: tuple[dict[str, Flow], SystemTexts]) -> Flow:
    return good[0]["wards"]


Play = Callable[..., list[Turn]]


@pytest.fixture(scope="session")
def play(texts: SystemTexts) -> Play:
    """Run a transcript through the engine and assert every screen; returns the turns.

    The first row's typed text is ignored (it stands for dialling); the run id of the first run is
    "run-1" and a restarted run gets "run-2", "run-3"...
    """

    def run(
        flow: Flow, transcript: Transcript, language: str | None = None, turn: Turn | None = None
    ) -> list[Turn]:
        ids = (f"run-{n}" for n in range(2, 100))
        turns = []
        for index, (typed, expected) in enumerate(transcript):
            if turn is None:
                turn = engine.start(flow, texts, run_id="run-1", language=language)
            else:
                turn = engine.resume(flow, texts, turn.state, typed, fresh_run_id=next(ids))
            assert turn.screen.text == expected, f"hop {index} ({typed!r})"
            assert len(turn.screen.text) <= 182
            turns.append(turn)
        return turns

    return run
