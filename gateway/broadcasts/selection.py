"""Who an audience is, read from the database now: recipients, and who is left out and why.

The same reads serve the preview (before anything is written) and the send (a scheduled
broadcast picks its people at send time, so a STOP sent in between is respected).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from gateway.broadcasts.audience import Audience
from gateway.models import Contact
from gateway.phone import pseudonym

DEFAULT_PROVIDER = "africastalking"  # for a contact who never texted us (a CSV number)
CHUNK = 900  # pseudonyms per IN (...): below SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class Recipient:
    pseudonym: str
    provider: str
    number_encrypted: str | None = None  # None: a listed number with no contact yet
    number: str | None = None  # E.164, only for a listed number (the confirm encrypts it)


@dataclass
class Selection:
    recipients: list[Recipient] = field(default_factory=list)
    excluded: int = 0  # sent STOP
    no_number: int = 0  # a contact we have no number for (USSD only)

    def by_provider(self) -> dict[str, int]:
        return dict(Counter(r.provider for r in self.recipients))


def select_audience(session: Session, audience: Audience, secret_key: str) -> Selection:
    """Who `audience` reaches now (for the preview, and for a send from the launch form)."""
    if audience.by_numbers:
        return _listed(session, audience.numbers, secret_key)
    return _filtered(session, audience)


def select_stored(session: Session, stored: dict) -> Selection:
    """Who a Broadcast's stored audience reaches now (a scheduled send, at its time)."""
    if stored.get("kind") == "csv":
        selection = Selection()
        for contact in _contacts(session, list(stored.get("pseudonyms", []))):
            _add(selection, contact)
        return selection
    return _filtered(session, Audience(ward=stored.get("ward", ""),
                                       language=stored.get("language", ""),
                                       tag=stored.get("tag", "")))


def known_wards(session: Session) -> list[str]:
    """The wards contacts have answered, for the form's ward menu."""
    rows = session.exec(select(Contact.ward_code).where(col(Contact.ward_code).is_not(None))
                        .distinct().order_by(Contact.ward_code)).all()
    return [ward for ward in rows if ward]


def _filtered(session: Session, audience: Audience) -> Selection:
    query = select(Contact)
    if audience.ward:
        query = query.where(Contact.ward_code == audience.ward)
    if audience.language:
        query = query.where(Contact.language == audience.language)
    selection = Selection()
    # tags are a JSON list: filtered here, the same on SQLite and PostgreSQL
    for contact in session.exec(query.order_by(Contact.id).execution_options(yield_per=1000)):
        if audience.tag and audience.tag not in (contact.tags or []):
            continue
        _add(selection, contact)
    return selection


def _listed(session: Session, numbers: Iterable[str], secret_key: str) -> Selection:
    by_pseudonym = {pseudonym(number, secret_key): number for number in numbers}
    known = {c.pseudonym: c for c in _contacts(session, list(by_pseudonym))}
    selection = Selection()
    for who, number in by_pseudonym.items():
        contact = known.get(who)
        if contact is not None and contact.opted_out:
            selection.excluded += 1
            continue
        provider = (contact.channel if contact else None) or DEFAULT_PROVIDER
        stored = contact.number_encrypted if contact else None
        selection.recipients.append(Recipient(who, provider, stored, number))
    return selection


def _contacts(session: Session, pseudonyms: list[str]) -> Iterator[Contact]:
    for start in range(0, len(pseudonyms), CHUNK):
        chunk = pseudonyms[start:start + CHUNK]
        yield from session.exec(select(Contact).where(col(Contact.pseudonym).in_(chunk)))


def _add(selection: Selection, contact: Contact) -> None:
    if contact.opted_out:
        selection.excluded += 1
    elif contact.number_encrypted is None:
        selection.no_number += 1
    else:
        selection.recipients.append(Recipient(contact.pseudonym,
                                              contact.channel or DEFAULT_PROVIDER,
                                              contact.number_encrypted))
