"""SQL tables. Nothing here holds a raw phone number: contacts are known by their pseudonym.

Changing a table means a new migration in gateway/migrations/versions/ (tests/test_migrations.py
fails while the two disagree).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive; we put UTC back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _timestamp(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, **kwargs)


class Contact(SQLModel, table=True):
    __tablename__ = "contact"

    id: int | None = Field(default=None, primary_key=True)
    pseudonym: str = Field(unique=True, index=True)
    language: str | None = None
    number_encrypted: str | None = None  # gateway.crypto; the only way back to a phone number
    channel: str | None = None  # "africastalking" | "twilio": the provider of the last inbound SMS
    opted_out: bool = False  # STOP (or Twilio 21610): nothing but the STOP confirmation goes out
    opted_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    help_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ward_code: str | None = Field(default=None, index=True)  # the ward they last answered
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class FlowRun(SQLModel, table=True):
    """One citizen's pass through a flow; `id` is the engine's run_id, so inserts are idempotent."""

    __tablename__ = "flow_run"

    id: str = Field(primary_key=True)
    flow: str = Field(index=True)
    contact_pseudonym: str = Field(index=True)
    channel: str = "ussd"
    language: str
    status: str  # "completed" | "incomplete" | "failed"
    last_step: str | None = None
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    hops: int = 0
    started_at: datetime = _timestamp()
    ended_at: datetime = _timestamp()
    simulated: bool = False


class UssdSessionRecord(SQLModel, table=True):
    """Africa's Talking's end-of-session notification, kept for cost and failure reporting."""

    __tablename__ = "ussd_session_record"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(unique=True, index=True)
    service_code: str
    network_code: str | None = None
    status: str  # "completed" | "incomplete" | "failed": AT's Success/Incomplete/Failed, mapped
    cost: str | None = None  # e.g. "KES 0.0000", as the provider says
    duration_ms: int | None = None
    hops_count: int | None = None
    error_message: str | None = None
    contact_pseudonym: str | None = Field(default=None, index=True)
    last_response: str | None = None  # trimmed to one screen (182 characters)
    received_at: datetime = _timestamp()


class InboundMessage(SQLModel, table=True):
    """One SMS a citizen sent us; (provider, provider_id) is unique: a replay cannot land twice."""

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("provider", "provider_id", name="uq_inbound_provider_id"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str  # "africastalking" | "twilio"
    provider_id: str
    contact_pseudonym: str = Field(index=True)
    to: str  # our number or shortcode
    text: str  # after truncation to sms.max_inbound_chars; citizen text is data, never markup
    truncated: bool = False
    original_length: int
    received_at: datetime = _timestamp()


class OutboundMessage(SQLModel, table=True):
    """One SMS we send: the row is committed before any job carries its id (gateway.outbox)."""

    __tablename__ = "outbound_message"
    # the sweeper's question, "which queued rows have waited too long?", is one index range
    __table_args__ = (Index("ix_outbound_message_status_updated_at", "status", "updated_at"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_pseudonym: str = Field(index=True)
    number_encrypted: str  # gateway.crypto
    provider: str  # "africastalking" | "twilio"
    sender: str | None = None  # shortcode, alphanumeric sender or our Twilio number
    text: str
    kind: str  # "reply" | "bulk" | "notice"
    priority: str  # "high" | "low"
    status: str = "queued"
    # "queued" | "sending" | "sent" | "delivered" | "failed" | "unknown"
    encoding: str  # "GSM-7" | "UCS-2"
    segments: int
    cost_estimate: float  # segments x [outbox] <provider>_segment_price, in [outbox] currency
    provider_id: str | None = Field(default=None, index=True)
    failure_reason: str | None = None
    attempts: int = 0
    dedupe_key: str | None = Field(default=None, unique=True)
    job_id: str | None = None  # the RQ job of a batch; None: the message's own job "sms-{id}"
    broadcast_id: int | None = Field(default=None, index=True)  # a poll invite's broadcast
    created_at: datetime = _timestamp()
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = _timestamp()


class Report(SQLModel, table=True):
    """A citizen's report of a local problem (gateway.reports), known by `reference` ("R-7K3Q")."""

    __tablename__ = "report"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(unique=True, index=True)
    run_id: str | None = Field(
        default=None, unique=True
    )  # the flow run it came from: filing is idempotent
    category: str = Field(index=True)  # the Open311 service_code: water, roads, ...
    ward_code: str = Field(index=True)  # e.g. "kisumu-central/railways" (gateway.areas)
    area_path: str = ""  # "Railways, Kisumu Central, Kisumu"
    landmark: str | None = None
    description: str = ""
    channel: str = "ussd"  # "ussd" | "sms" | "open311"
    language: str = "en"
    reporter_pseudonym: str | None = Field(default=None, index=True)
    status: str = Field(default="submitted", index=True)
    # "submitted" | "acknowledged" | "in_progress" | "resolved" | "closed" | "rejected"
    rejection_reason: str | None = None
    department: str | None = None
    duplicate_of: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("report.id"), nullable=True, index=True)
    )
    lat: float | None = None
    long: float | None = None
    source: str = "citizen"  # "citizen" | "open311"
    open311_account: str | None = None  # the ApiKey name that filed it
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReportEvent(SQLModel, table=True):
    """One change of a report's status: who made it ("staff:<email>", "open311:<name>", "citizen",
    "system") and when."""

    __tablename__ = "report_event"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(
        sa_column=Column(Integer, ForeignKey("report.id"), nullable=False, index=True)
    )
    status_from: str | None = None
    status_to: str
    note: str | None = None
    actor: str
    created_at: datetime = _timestamp()


class ApiKey(SQLModel, table=True):
    """A city system's Open311 key; only the token's sha256 is kept (`gateway apikey add NAME`)."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    key_hash: str = Field(unique=True, index=True)
    revoked: bool = False
    created_at: datetime = _timestamp()


# --- the staff web view (gateway/staff) ---------------------------------------------------------


class StaffAccount(SQLModel, table=True):
    """A staff member: `gateway staff add EMAIL --role admin|analyst`; argon2id password hash."""

    __tablename__ = "staff_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True)  # stored lower-case
    role: str  # "admin" | "analyst"
    password_hash: str
    failed_logins: int = 0  # since the last success or lockout
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _timestamp()


class AuditEntry(SQLModel, table=True):
    """Every staff action: who, what, on what, when. Admins read it at /staff/audit."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(index=True)  # the staff email, or "anonymous" for a failed login
    action: str = Field(index=True)  # "login", "login_failed", "report_status", "poll_launch"...
    target: str = ""  # "report:R-7K3Q", "flow:budget", "broadcast:12"
    detail: str = ""  # short and human; never a phone number
    created_at: datetime = _timestamp(index=True)


class Poll(SQLModel, table=True):
    """What staff decided about a flow: draft, live or closed, and whether its results are public.

    A flow with no row is a draft."""

    __tablename__ = "poll"

    flow: str = Field(primary_key=True)
    status: str = "draft"  # "draft" | "live" | "closed"
    public: bool = False  # /public/polls/{flow} shows aggregates, small groups suppressed
    updated_at: datetime = _timestamp()


class Broadcast(SQLModel, table=True):
    """An SMS invite to a flow's audience; each recipient's message has the dedupe key
    "broadcast:{id}:{pseudonym}", so nobody gets the same invite twice."""

    __tablename__ = "broadcast"

    id: int | None = Field(default=None, primary_key=True)
    flow: str = Field(index=True)
    text: str
    audience: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    recipients: int = 0  # who will get it (STOP excluded)
    excluded: int = 0  # left out because they sent STOP
    status: str = "draft"  # "draft" | "scheduled" | "sending" | "sent" | "cancelled"
    idempotency_key: str = Field(unique=True)  # the launch form's token: a double click is one
    scheduled_for: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


def row_defaults(model: type[SQLModel]) -> dict[str, Any]:
    """The values an ORM insert of `model` would give the columns left out: each field's
    default, or a fresh one from its default factory. For Core inserts on hot paths
    (gateway.sms.conversation), which then stay equal to the ORM's rows when a column is added.
    A column without a default is left out: the caller must give it."""
    fixed, factories = _defaults(model)
    values = dict(fixed)
    for name, factory in factories:
        values[name] = factory()
    return values


@cache
def _defaults(model: type[SQLModel]) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    fixed: dict[str, Any] = {}
    factories = []
    columns = model.__table__.columns  # type: ignore[attr-defined]
    for name, info in model.model_fields.items():
        if name not in columns or name == "id":  # the id is the database's
            continue
        if info.default_factory is not None:
            factories.append((name, info.default_factory))
        elif not info.is_required():
            fixed[name] = info.default
    return fixed, tuple(factories)
