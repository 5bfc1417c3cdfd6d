"""`gateway results FLOW --format csv|json`: a flow's collected answers, pseudonymised.

Contacts appear only as their pseudonym (the database holds no raw number). CSV cells that a
spreadsheet would run as a formula are prefixed with `'`. Runs played in the simulator are left
out, as on the staff pages and in their exports; `--include-simulated` lists them too (the
`simulated` column tells them apart).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import false
from sqlmodel import Session, col, select

from gateway.config import Settings
from gateway.models import FlowRun

FIXED_COLUMNS = [
    "run_id", "contact", "channel", "language", "status", "last_step", "started_at", "ended_at",
    "simulated",  # played in the simulator: only listed with --include-simulated
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def main(settings: Settings, flow: str, fmt: str = "csv", out: TextIO | None = None, *,
         include_simulated: bool = False) -> int:
    from gateway.db import make_engine

    out = out or sys.stdout
    query = select(FlowRun).where(FlowRun.flow == flow)
    if not include_simulated:
        query = query.where(col(FlowRun.simulated) == false())
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            runs = list(session.exec(query.order_by(col(FlowRun.started_at), col(FlowRun.id))))
    finally:
        engine.dispose()
    keys = result_keys(_flow_keys(settings, flow), runs)
    if not runs and keys is None:
        print(f"results: unknown flow {flow!r} and no runs recorded for it", file=sys.stderr)
        return 1
    rows = [row(run) for run in runs]
    if fmt == "json":
        json.dump(rows, out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        write_csv(out, rows, keys or [])
    return 0


def row(run: FlowRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "contact": run.contact_pseudonym,
        "channel": run.channel,
        "language": run.language,
        "status": run.status,
        "last_step": run.last_step,
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "simulated": run.simulated,
        "answers": dict(run.answers or {}),
    }


def result_keys(flow_keys: list[str] | None, runs: Iterable[FlowRun]) -> list[str] | None:
    """The flow's result keys in step order, then any older keys found only in the rows."""
    keys = list(flow_keys or [])
    extra = sorted({k for run in runs for k in (run.answers or {})} - set(keys))
    if flow_keys is None and not extra:
        return None
    return keys + extra


def write_csv(out: TextIO, rows: Sequence[dict[str, Any]], keys: list[str]) -> None:
    writer = csv.writer(out, lineterminator="\r\n")  # a bare CR in a cell gets quoted too
    writer.writerow(FIXED_COLUMNS + keys)
    for one in rows:
        cells = [one[c] for c in FIXED_COLUMNS] + [one["answers"].get(k, "") for k in keys]
        writer.writerow([formula_safe(cell) for cell in cells])


def formula_safe(value: Any) -> str:
    """`=HYPERLINK(...)` typed by a citizen must stay text in a spreadsheet.

    A bare number (an E.164 phone number such as +254711000001, or -2) is left as it is: it
    cannot call anything, and a quote in front would mangle it for whoever reads the file.
    """
    text = "" if value is None else str(value)
    if _BARE_NUMBER.fullmatch(text):
        return text
    return "'" + text if text.startswith(FORMULA_STARTS) else text


_BARE_NUMBER = re.compile(r"[+-]?[0-9]{1,20}(\.[0-9]{1,20})?")


def _flow_keys(settings: Settings, flow: str) -> list[str] | None:
    path = Path(settings.app.flows_dir) / f"{flow}.toml"
    if not path.is_file():
        return None
    from gateway.flows.loader import FlowError, load_flow

    try:
        steps = load_flow(path).steps.values()
    except FlowError:  # a broken file still lets the rows be printed, keys sorted
        return None
    keys: list[str] = []
    for step in steps:
        if step.result and step.result not in keys:
            keys.append(step.result)
    return keys


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""
