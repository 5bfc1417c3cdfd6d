"""Who an audience is, read from the database now: recipients, and who is left out and why.

The same reads serve the preview (before anything is written) and the send (a scheduled
broadcast picks its people at send time, so a STOP sent in between is respected).

Unless the audience says `reinvite`, people an earlier broadcast of the same poll invited (and
whose invite was not cancelled) are left out and counted: launching the same poll to an
overlapping audience does not text anyone the invite a second time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row
from sqlmodel import Session, col, select

from gateway.broadcasts.audience import Audience
from gateway.models import Broadcast, Contact, OutboundMessage
from gateway.phone import pseudonym

# What choosing recipients reads of a contact: plain rows, not ORM objects, and the tags (JSON
# to decode) only when the audience is a tag: a 100,000-contact audience is read several times
# faster so (bench/broadcast.py).
_COLUMNS = (Contact.pseudonym, Contact.channel, Contact.number_encrypted, Contact.opted_out)
DEFAULT_PROVIDER = "africastalking"  # for a contact who never texted us (a CSV number)
CHUNK = 900  # pseudonyms per IN (...): below SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True, slots=True)
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
    already_invited: int = 0  # an earlier broadcast of this poll invited them

    def by_provider(self) -> dict[str, int]:
        return dict(Counter(r.provider for r in self.recipients))


def select_audience(
    session: Session, audience: Audience, secret_key: str, flow: str
) -> Selection:
    """Who `audience` reaches now (for the preview, and for a send from the launch form)."""
    if audience.by_numbers:
        selection = _listed(session, audience.numbers, secret_key)
    else:
        selection = _filtered(session, audience)
    return selection if audience.reinvite else _leave_out_invited(session, selection, flow)


def select_stored(session: Session, stored: dict, flow: str, broadcast_id: int) -> Selection:
    """Who broadcast `broadcast_id`'s stored audience reaches now (a scheduled send, at its
    time); invitations from any other broadcast of the flow count, even a later one."""
    if stored.get("kind") == "csv":
        selection = Selection()
        for contact in _contacts(session, list(stored.get("pseudonyms", []))):
            _add(selection, contact)
    else:
        selection = _filtered(session, Audience(ward=stored.get("ward", ""),
                                                language=stored.get("language", ""),
                                                tag=stored.get("tag", "")))
    if stored.get("reinvite"):
        return selection
    return _leave_out_invited(session, selection, flow, other_than=broadcast_id)


def invited(session: Session, flow: str, *, other_than: int | None = None) -> set[str]:
    """Pseudonyms that a broadcast of `flow` (other than `other_than`) invited."""
    query = (select(OutboundMessage.contact_pseudonym).distinct()
             .join(Broadcast, col(Broadcast.id) == col(OutboundMessage.broadcast_id))
             .where(Broadcast.flow == flow, OutboundMessage.status != "cancelled"))
    if other_than is not None:
        query = query.where(col(Broadcast.id) != other_than)
    return {who for who in session.exec(query) if who}


def _leave_out_invited(
    session: Session, selection: Selection, flow: str, *, other_than: int | None = None
) -> Selection:
    earlier = invited(session, flow, other_than=other_than)
    if not earlier:
        return selection
    kept = [r for r in selection.recipients if r.pseudonym not in earlier]
    selection.already_invited = len(selection.recipients) - len(kept)
    selection.recipients = kept
    return selection


def known_wards(session: Session) -> list[str]:
    """The wards contacts have answered, for the form's ward menu."""
    rows = session.exec(select(Contact.ward_code).where(col(Contact.ward_code).is_not(None))
                        .distinct().order_by(Contact.ward_code)).all()
    return [ward for ward in rows if ward]


def known_tags(session: Session) -> list[str]:
    """Tags used by earlier launches, for the form's tag suggestions: read from the broadcasts'
    audience JSON in SQL (a list's pseudonyms never leave the database), not from every contact."""
    tag = col(Broadcast.audience)["tag"].as_string()
    return sorted(t for t in session.exec(select(tag).distinct()) if t)


def _filtered(session: Session, audience: Audience) -> Selection:
    query = select(*_COLUMNS, Contact.tags) if audience.tag else select(*_COLUMNS)
    if audience.ward:
        query = query.where(Contact.ward_code == audience.ward)
    if audience.language:
        query = query.where(Contact.language == audience.language)
    selection = Selection()
    # tags are a JSON list: filtered here, the same on SQLite and PostgreSQL
    for contact in session.exec(query.order_by(Contact.id).execution_options(yield_per=5000)):
        if audience.tag and audience.tag not in {t.lower() for t in contact.tags or []}:
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


def _contacts(session: Session, pseudonyms: list[str]) -> Iterator[Row[Any]]:
    for start in range(0, len(pseudonyms), CHUNK):
        chunk = pseudonyms[start:start + CHUNK]
        yield from session.exec(select(*_COLUMNS).where(col(Contact.pseudonym).in_(chunk)))


def _add(selection: Selection, contact: Row[Any]) -> None:
    if contact.opted_out:
        selection.excluded += 1
    elif contact.number_encrypted is None:
        selection.no_number += 1
    else:
        selection.recipients.append(Recipient(contact.pseudonym,
                                              contact.channel or DEFAULT_PROVIDER,
                                              contact.number_encrypted))
