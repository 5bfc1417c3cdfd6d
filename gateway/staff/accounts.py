"""Staff accounts: creation, and logging in with a lockout after repeated failures.

A failed login never says whether the email exists, the password was wrong or the account is
locked: every failure answers the same (`LoginFailed`), and takes as long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from gateway.models import StaffAccount
from gateway.staff import passwords

ROLES = ("admin", "analyst")


class AccountError(ValueError):
    """A bad account request (weak password, unknown role, email taken): the message says why."""


class LoginFailed(Exception):
    """Wrong email, wrong password, or locked: deliberately the same to the caller."""


@dataclass(frozen=True)
class Staff:
    """Who is logged in, as the pages see it."""

    id: int
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_account(session: Session, email: str, role: str, password: str) -> StaffAccount:
    email = normalise_email(email)
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise AccountError(f"{email!r} is not an email address")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    reason = passwords.weak_reason(password)
    if reason:
        raise AccountError(reason)
    account = StaffAccount(email=email, role=role, password_hash=passwords.hash_password(password))
    session.add(account)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise AccountError(f"{email} already has an account") from None
    return account


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    attempts: int,
    lockout: timedelta,
    now: datetime | None = None,
) -> Staff:
    """The staff member, or LoginFailed. Counts failures; `attempts` in a row lock the account
    for `lockout` (a correct password during the lock still fails)."""
    now = now or datetime.now(UTC)
    account = session.exec(
        select(StaffAccount).where(StaffAccount.email == normalise_email(email))
    ).first()
    if account is None:
        passwords.verify_password(passwords.DUMMY_HASH, password)  # same time as a real check
        raise LoginFailed()
    locked = account.locked_until is not None and account.locked_until > now
    good = passwords.verify_password(account.password_hash, password)
    if locked or not good:
        if not locked:
            account.failed_logins += 1
            if account.failed_logins >= attempts:
                account.locked_until = now + lockout
                account.failed_logins = 0
        session.add(account)
        session.commit()
        raise LoginFailed()
    if passwords.needs_rehash(account.password_hash):
        account.password_hash = passwords.hash_password(password)
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    session.add(account)
    session.commit()
    assert account.id is not None
    return Staff(account.id, account.email, account.role)


def is_locked(session: Session, email: str, now: datetime | None = None) -> bool:
    """For the audit log and tests; never shown on the login page."""
    now = now or datetime.now(UTC)
    account = session.exec(
        select(StaffAccount).where(StaffAccount.email == normalise_email(email))
    ).first()
    return bool(account and account.locked_until and account.locked_until > now)
