"""The reports inbox as CSV: the filtered list, formula-safe, with no number or pseudonym.

A citizen's description can be `=HYPERLINK("http://evil", "click")`; every cell goes through
`gateway.results.formula_safe` so a spreadsheet shows it as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from gateway.results import formula_safe
from gateway.staff.reports_listing import ReportRow

COLUMNS = ("reference", "received", "category", "place", "ward_code", "status", "channel",
           "language", "department", "description", "linked_to")


def csv_text(rows: Iterable[ReportRow]) -> str:
    """The header and one line per report; `received` is UTC, `linked_to` the original's
    reference when the report is a likely duplicate."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([formula_safe(cell) for cell in _cells(row)])
    return out.getvalue()


def _cells(row: ReportRow) -> tuple[str, ...]:
    return (row.reference, row.received.strftime("%Y-%m-%d %H:%M:%S"), row.category, row.place,
            row.ward_code, row.status, row.channel, row.language, row.department,
            row.description, row.original)
