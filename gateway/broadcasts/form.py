"""Reading the launch form (pure): the audience, the invite text and when, or what is wrong.

The preview and the confirm read the same fields; the confirm form carries the preview's
numbers, already in E.164, in `numbers`, so both pages parse them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.broadcasts.audience import CONTACTS, NUMBERS, Audience
from gateway.broadcasts.numbers import NumberList, parse_numbers

MAX_TEXT = 1600  # characters: ten or more segments is almost certainly a mistake
EARLIEST = timedelta(minutes=1)  # "later" must be at least this far ahead
MAX_TAG = 40


@dataclass(frozen=True)
class LaunchFields:
    """The form's text fields, as posted (see the launch.html template for their names)."""

    audience: str = CONTACTS  # "contacts" | "csv"
    ward: str = ""
    language: str = ""
    tag: str = ""  # contacts: only those with this tag
    numbers: str = ""  # pasted, one a line (or CSV)
    tag_listed: str = ""  # a list of numbers: tag their contacts with this
    reinvite: str = ""  # "yes": invite again people an earlier broadcast of this poll invited
    text: str = ""
    when: str = "now"  # "now" | "later"
    send_at: str = ""  # datetime-local in staff.time_zone: "2025-03-01T09:30"


@dataclass
class Reading:
    audience: Audience
    text: str
    send_at: datetime | None
    listed: NumberList = field(default_factory=NumberList)  # rows read, bad ones by line
    problems: list[str] = field(default_factory=list)  # nothing can go while there are any


def read(fields: LaunchFields, *, file_text: str | None, languages: tuple[str, ...],
         now: datetime, zone: ZoneInfo) -> Reading:
    """What the form asks for; `problems` says in plain words what stops it. Times are typed
    in `zone` (staff.time_zone) and come back in UTC."""
    problems: list[str] = []
    listed = NumberList()
    kind = NUMBERS if fields.audience == NUMBERS else CONTACTS
    if kind == NUMBERS:
        both = bool(file_text) and bool(fields.numbers)
        if file_text:
            listed.extend(parse_numbers(file_text, label="file line" if both else "line"))
        if fields.numbers:
            listed.extend(parse_numbers(fields.numbers,
                                        label="pasted line" if both else "line"))
        if not listed.numbers:
            problems.append("Add a CSV file or paste phone numbers: no valid number was found.")
    if fields.language and fields.language not in languages:
        problems.append(f"Unknown language {fields.language!r}.")
    text = fields.text.strip()
    if not text:
        problems.append("Write the invite text.")
    elif len(text) > MAX_TEXT:
        problems.append(f"The invite is {len(text)} characters; keep it under {MAX_TEXT}.")
    tag = normal_tag(fields.tag if kind == CONTACTS else fields.tag_listed)
    if tag is None:
        problems.append("A tag is up to 40 letters, digits, spaces, - or _ (e.g. youth-2025).")
    send_at = None
    if fields.when == "later":
        send_at = parse_time(fields.send_at, zone)
        if send_at is None:
            problems.append(f"Give the date and time to send at ({zone.key} time).")
        elif send_at < now + EARLIEST:
            problems.append("The time to send at has passed: pick a time in the future, or "
                            "send now.")
    audience = Audience(kind=kind, ward=fields.ward if kind == CONTACTS else "",
                        language=fields.language if kind == CONTACTS else "",
                        tag=tag or "", numbers=tuple(listed.numbers),
                        reinvite=fields.reinvite == "yes")
    return Reading(audience, text, send_at, listed, problems)


def normal_tag(value: str) -> str | None:
    """A tag as stored: trimmed, lower case, inner spaces single; "" for none; None if it is
    not one.

    >>> normal_tag("  Youth  Forum "), normal_tag(""), normal_tag("=cmd|x")
    ('youth forum', '', None)
    """
    tag = " ".join(value.split()).lower()
    if len(tag) > MAX_TAG or not all(c.isalnum() or c in " -_" for c in tag):
        return None
    return tag


def parse_time(value: str, zone: ZoneInfo) -> datetime | None:
    """A datetime-local value ("2025-03-01T09:30") typed in `zone`, as UTC; None if it is not
    one. A value that names its own offset keeps it."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return (moment.replace(tzinfo=zone) if moment.tzinfo is None else moment).astimezone(UTC)


def local_value(moment: datetime | None, zone: ZoneInfo) -> str:
    """The datetime-local value for `moment` in `zone`, "" for None."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if moment else ""
