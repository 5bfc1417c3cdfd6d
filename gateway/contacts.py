"""Contacts over SMS: who may be texted, how to reach them, in which language, how often helped.

A contact is known by its pseudonym. To text one back we keep the number encrypted
(gateway.crypto); the provider of its last inbound SMS is the one we answer through. STOP sets
`opted_out` (nothing but the STOP confirmation goes out until START clears it), and the "text
POLL to take part" help goes at most once per `sms.help_interval_seconds`, so two robots
answering each other cannot loop.

Every function works inside the caller's SQL transaction; none commits.

`claim` and `save` are the inbound SMS's hot path (gateway.sms.conversation): plain SQL
statements on the transaction's connection, one to lock (and, for a first message, one more to
create) the contact, one to write what the message changed, and only when it changed something.
The ORM's unit of work cost several times the statements' own CPU there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, insert, update
from sqlmodel import Session, select

from gateway.crypto import encrypt_number
from gateway.models import Contact, row_defaults

_TABLE = Contact.__table__  # type: ignore[attr-defined]
_CLAIMED = (_TABLE.c.language, _TABLE.c.opted_out, _TABLE.c.help_sent_at,
            _TABLE.c.number_encrypted)


class ContactLike(Protocol):
    """What the functions below read and change: an ORM `Contact` or a `ContactState`."""

    pseudonym: str
    language: str | None
    opted_out: bool
    opted_out_at: datetime | None
    help_sent_at: datetime | None
    updated_at: datetime


@dataclass
class ContactState:
    """The fields of a contact that change what an inbound SMS means, read by `claim`."""

    pseudonym: str
    language: str | None
    opted_out: bool
    help_sent_at: datetime | None
    updated_at: datetime
    opted_out_at: datetime | None = None
    number_encrypted: str | None = None
    changed: dict[str, Any] | None = None  # what `save` will write


def claim(
    connection: Connection, pseudonym: str, *, now: datetime, provider: str | None = None,
    number: str | None = None, secret_key: str = "",
) -> ContactState:
    """Lock the contact's row for this transaction (creating it if new) and read its state.

    With a `provider` it also notes the inbound SMS, as `note_inbound` does: the provider to
    answer through and, if none is kept yet, the `number` encrypted under `secret_key` (the
    state's `number_encrypted` is then the one to answer: encrypting costs tens of µs, so a
    known contact's stored one serves). Without a provider (a simulated message) the row is
    locked and left as it is. Two first messages of one new contact racing: the loser's insert
    raises IntegrityError and its caller runs the transaction again.
    """
    if provider is None:
        row = connection.execute(_LOCK, {"p": pseudonym}).first()
    else:
        row = connection.execute(_NOTE_INBOUND,
                                 {"p": pseudonym, "now": now, "channel": provider}).first()
    if row is None:
        new = row_defaults(Contact)
        new.update(pseudonym=pseudonym, created_at=now, updated_at=now)
        if provider is not None:
            new.update(channel=provider, number_encrypted=_encrypted(number, secret_key))
        connection.execute(_INSERT, new)
        return ContactState(pseudonym, new["language"], new["opted_out"], new["help_sent_at"],
                            now, number_encrypted=new["number_encrypted"])
    state = ContactState(pseudonym, row.language, bool(row.opted_out), row.help_sent_at, now,
                         number_encrypted=row.number_encrypted)
    if provider is not None and state.number_encrypted is None:
        state.number_encrypted = _encrypted(number, secret_key)
        connection.execute(update(_TABLE).where(_TABLE.c.pseudonym == pseudonym)
                           .values(number_encrypted=state.number_encrypted))
    return state


def _encrypted(number: str | None, secret_key: str) -> str | None:
    return encrypt_number(number, secret_key) if number else None


# Built once: a statement built per call costs more CPU than the database spends on it.
_INSERT = insert(_TABLE)
_LOCK = (update(_TABLE).where(_TABLE.c.pseudonym == bindparam("p"))
         .values(pseudonym=_TABLE.c.pseudonym)  # a write that changes nothing: it locks the row
         .returning(*_CLAIMED))
_NOTE_INBOUND = (
    update(_TABLE).where(_TABLE.c.pseudonym == bindparam("p"))
    .values(updated_at=bindparam("now", type_=_TABLE.c.updated_at.type),
            channel=bindparam("channel", type_=_TABLE.c.channel.type))
    .returning(*_CLAIMED)
)


def save(connection: Connection, contact: ContactState) -> None:
    """Write what `opt_out`, `opt_in` or `mark_help_sent` changed since `claim`; nothing if
    nothing did."""
    if contact.changed:
        connection.execute(update(_TABLE).where(_TABLE.c.pseudonym == contact.pseudonym)
                           .values(contact.changed))
        contact.changed = None


def find(session: Session, pseudonym: str, *, lock: bool = False) -> Contact | None:
    """The contact, its row locked for this transaction when `lock` (PostgreSQL; SQLite ignores)."""
    query = select(Contact).where(Contact.pseudonym == pseudonym)
    if lock:
        query = query.with_for_update()
    return session.exec(query).first()


def find_or_create(session: Session, pseudonym: str, *, now: datetime) -> Contact:
    """The contact, created (and flushed) if new.

    Two first messages of one new contact racing each other: the loser's flush raises
    IntegrityError, and its caller runs the whole transaction again (then it finds the row).
    """
    contact = find(session, pseudonym, lock=True)
    if contact is None:
        contact = Contact(pseudonym=pseudonym, created_at=now, updated_at=now)
        session.add(contact)
        session.flush()
    return contact


def note_inbound(
    contact: Contact, *, number: str, provider: str, secret_key: str, now: datetime
) -> None:
    """Remember how to answer: the provider it wrote through and (once) its encrypted number."""
    if contact.number_encrypted is None:
        contact.number_encrypted = encrypt_number(number, secret_key)
    contact.channel = provider
    contact.updated_at = now


def opt_out(contact: ContactLike, now: datetime) -> bool:
    """STOP; False if the contact had already stopped (no second confirmation then)."""
    if contact.opted_out:
        return False
    _set(contact, opted_out=True, opted_out_at=now, updated_at=now)
    return True


def opt_in(contact: ContactLike, now: datetime) -> bool:
    """START; False if the contact was not stopped."""
    if not contact.opted_out:
        return False
    _set(contact, opted_out=False, opted_out_at=None, updated_at=now)
    return True


def help_due(contact: ContactLike, now: datetime, interval_seconds: int) -> bool:
    """Whether the unprompted help may go now: never sent, or sent over `interval` ago."""
    sent = contact.help_sent_at
    return sent is None or now - _aware(sent) >= timedelta(seconds=interval_seconds)


def mark_help_sent(contact: ContactLike, now: datetime) -> None:
    _set(contact, help_sent_at=now, updated_at=now)


def _set(contact: ContactLike, **values: Any) -> None:
    """Change the fields; a `ContactState` also remembers them for `save`."""
    for name, value in values.items():
        setattr(contact, name, value)
    if isinstance(contact, ContactState):
        contact.changed = {**(contact.changed or {}), **values}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
