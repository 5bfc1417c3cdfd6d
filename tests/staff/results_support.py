"""Results for the polls tests: FlowRun rows as the worker writes them, and the repo's flows."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from gateway.db import make_engine
from gateway.flows.loader import load_flow
from gateway.flows.model import Flow
from gateway.models import FlowRun

FLOWS = Path(__file__).resolve().parents[2] / "flows"
START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
_numbers = itertools.count(1)


def flow(name: str) -> Flow:
    return load_flow(FLOWS / f"{name}.toml")


def run(flow: str = "budget", *, status: str = "completed", last_step: str | None = None,
        channel: str = "ussd", language: str = "en", simulated: bool = False,
        minute: int | None = None, **answers: Any) -> FlowRun:
    """A run; completed budget runs end at `thanks` unless told otherwise."""
    n = next(_numbers)
    ended = START + timedelta(minutes=n if minute is None else minute)
    if last_step is None:
        last_step = {"budget": "thanks", "survey": "thanks_visited"}.get(flow, "end")
    return FlowRun(id=f"run-{n:05d}", flow=flow, contact_pseudonym=f"c-{n:05d}", channel=channel,
                   language=language, status=status, last_step=last_step, answers=answers,
                   started_at=ended - timedelta(minutes=1), ended_at=ended, simulated=simulated)


def vote(priority: str, ward: str, age: str = "25_34", comment: str | None = None,
         **kwargs: Any) -> FlowRun:
    """A completed budget vote."""
    answers = {"priority": priority, "age": age, "ward": ward, "confirm": "submit"}
    if comment is not None:
        answers["comment"] = comment
    return run("budget", **answers, **kwargs)


def save(database_url: str, runs: Iterable[FlowRun]) -> None:
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:  # the tests read them after
        session.add_all(list(runs))
        session.commit()
    engine.dispose()
