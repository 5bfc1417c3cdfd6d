"""The staff web view: staff accounts, the audit log, polls, broadcasts; contact ward and tags.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("ward_code", sa.String(), nullable=True))
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
        batch.create_index("ix_contact_ward_code", ["ward_code"])
    with op.batch_alter_table("outbound_message") as batch:
        batch.add_column(sa.Column("broadcast_id", sa.Integer(), nullable=True))
        batch.create_index("ix_outbound_message_broadcast_id", ["broadcast_id"])

    op.create_table(
        "staff_account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        _timestamp("locked_until", nullable=True),
        _timestamp("last_login_at", nullable=True),
        _timestamp("created_at"),
    )
    op.create_index("ix_staff_account_email", "staff_account", ["email"], unique=True)

    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        _timestamp("created_at"),
    )
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor"])
    op.create_index("ix_audit_entry_action", "audit_entry", ["action"])
    op.create_index("ix_audit_entry_created_at", "audit_entry", ["created_at"])

    op.create_table(
        "poll",
        sa.Column("flow", sa.String(), primary_key=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        _timestamp("updated_at"),
    )

    op.create_table(
        "broadcast",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("flow", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("excluded", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        _timestamp("scheduled_for", nullable=True),
        sa.Column("created_by", sa.String(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_broadcast_flow", "broadcast", ["flow"])


def downgrade() -> None:
    op.drop_table("broadcast")
    op.drop_table("poll")
    op.drop_table("audit_entry")
    op.drop_table("staff_account")
    with op.batch_alter_table("outbound_message") as batch:
        batch.drop_index("ix_outbound_message_broadcast_id")
        batch.drop_column("broadcast_id")
    with op.batch_alter_table("contact") as batch:
        batch.drop_index("ix_contact_ward_code")
        batch.drop_column("tags")
        batch.drop_column("ward_code")
