"""Contacts over SMS: who may be texted, how to reach them, in which language, how often helped.

A contact is known by its pseudonym. To text one back we keep the number encrypted
(gateway.crypto); the provider of its last inbound SMS is the one we answer through. STOP sets
`opted_out` (nothing but the STOP confirmation goes out until START clears it), and the "text
POLL to take part" help goes at most once per `sms.help_interval_seconds`, so two robots
answering each other cannot loop.

Every function works inside the caller's SQL transaction; none commits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from gateway.crypto import encrypt_number
from gateway.models import Contact


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


def opt_out(contact: Contact, now: datetime) -> bool:
    """STOP; False if the contact had already stopped (no second confirmation then)."""
    if contact.opted_out:
        return False
    contact.opted_out = True
    contact.opted_out_at = now
    contact.updated_at = now
    return True


def opt_in(contact: Contact, now: datetime) -> bool:
    """START; False if the contact was not stopped."""
    if not contact.opted_out:
        return False
    contact.opted_out = False
    contact.opted_out_at = None
    contact.updated_at = now
    return True


def help_due(contact: Contact, now: datetime, interval_seconds: int) -> bool:
    """Whether the unprompted help may go now: never sent, or sent over `interval` ago."""
    sent = contact.help_sent_at
    return sent is None or now - _aware(sent) >= timedelta(seconds=interval_seconds)


def mark_help_sent(contact: Contact, now: datetime) -> None:
    contact.help_sent_at = now
    contact.updated_at = now


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
