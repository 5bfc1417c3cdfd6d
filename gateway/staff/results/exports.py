"""A flow's runs as CSV, the same columns as `gateway results FLOW` (gateway/results.py).

One row per run, contacts as pseudonyms; every cell goes through `formula_safe`, so a comment
typed as `=HYPERLINK(...)` stays text and `+2547...` stays a number written as text.

Rows end in CRLF (RFC 4180): the csv module then quotes any cell holding a CR or an LF, so a
carriage return typed by a citizen cannot split a row in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from gateway import results
from gateway.flows.model import Flow
from gateway.models import FlowRun


def flow_keys(flow: Flow) -> list[str]:
    """The flow's result keys in step order (a key saved by two steps appears once)."""
    keys: list[str] = []
    for step in flow.steps.values():
        if step.result and step.result not in keys:
            keys.append(step.result)
    return keys


def results_csv(flow: Flow, runs: Sequence[FlowRun]) -> str:
    keys = results.result_keys(flow_keys(flow), runs) or []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(results.FIXED_COLUMNS + keys)
    for one in (results.row(run) for run in runs):
        cells = [one[c] for c in results.FIXED_COLUMNS] + [one["answers"].get(k, "") for k in keys]
        writer.writerow([results.formula_safe(cell) for cell in cells])
    return out.getvalue()


def filename(flow: Flow, suffix: str) -> str:
    return f"{flow.name}-{suffix}"
