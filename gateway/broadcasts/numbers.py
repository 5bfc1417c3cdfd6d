"""A list of phone numbers from a CSV file or a pasted list: valid ones in E.164, bad rows by line.

Staff paste spreadsheets: a header row ("phone", "msisdn"...) is recognised and skipped, the
phone column is found by its header name (else the first column), blank lines are ignored and
repeats are counted, not sent twice.

>>> found = parse_numbers("phone\\n0711 000 001\\nnot a number\\n+254711000001\\n")
>>> found.numbers, found.errors, found.repeated
(['+254711000001'], ['line 3: not a phone number'], 1)
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from gateway.phone import InvalidPhoneNumber, normalise_e164

HEADER_NAMES = ("phone", "number", "msisdn", "mobile", "tel", "telephone", "phone_number",
                "phone number", "contact")
MAX_LINES = 200_000


@dataclass
class NumberList:
    numbers: list[str] = field(default_factory=list)  # E.164, first occurrence order, no repeats
    errors: list[str] = field(default_factory=list)  # "line 4: not a phone number"
    repeated: int = 0  # rows whose number was already listed

    def extend(self, other: NumberList) -> None:
        seen = set(self.numbers)
        for number in other.numbers:
            if number in seen:
                self.repeated += 1
            else:
                seen.add(number)
                self.numbers.append(number)
        self.errors += other.errors
        self.repeated += other.repeated


def parse_numbers(text: str, *, region: str = "KE", label: str = "line") -> NumberList:
    """Every row of `text` (CSV or one number a line); errors name the row as `label N`."""
    found, seen = NumberList(), set()
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    column = 0
    for line_number, row in enumerate(rows, start=1):
        if line_number > MAX_LINES:
            found.errors.append(f"{label} {line_number}: too many rows (at most {MAX_LINES})")
            break
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if line_number == 1 and _is_header(cells):
            column = _phone_column(cells)
            continue
        raw = cells[column] if column < len(cells) else ""
        try:
            number = normalise_e164(raw, region)
        except InvalidPhoneNumber:
            found.errors.append(f"{label} {line_number}: not a phone number")
            continue
        if number in seen:
            found.repeated += 1
            continue
        seen.add(number)
        found.numbers.append(number)
    return found


def _is_header(cells: list[str]) -> bool:
    return any(cell.lower() in HEADER_NAMES for cell in cells)


def _phone_column(cells: list[str]) -> int:
    return next(i for i, cell in enumerate(cells) if cell.lower() in HEADER_NAMES)
