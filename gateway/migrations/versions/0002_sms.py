"""SMS both ways: contact opt-out and encrypted number, inbound and outbound messages.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("number_encrypted", sa.String(), nullable=True))
        batch.add_column(sa.Column("channel", sa.String(), nullable=True))
        # existing contacts have not opted out; the server default fills them in
        batch.add_column(
            sa.Column("opted_out", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(_timestamp("opted_out_at", nullable=True))
        batch.add_column(_timestamp("help_sent_at", nullable=True))

    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("provider_id", sa.String(), nullable=False),
        sa.Column("contact_pseudonym", sa.String(), nullable=False),
        sa.Column("to", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("original_length", sa.Integer(), nullable=False),
        _timestamp("received_at"),
        sa.UniqueConstraint("provider", "provider_id", name="uq_inbound_provider_id"),
    )
    op.create_index(
        "ix_inbound_message_contact_pseudonym", "inbound_message", ["contact_pseudonym"]
    )

    op.create_table(
        "outbound_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contact_pseudonym", sa.String(), nullable=False),
        sa.Column("number_encrypted", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("sender", sa.String(), nullable=True),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("priority", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("encoding", sa.String(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("cost_estimate", sa.Float(), nullable=False),
        sa.Column("provider_id", sa.String(), nullable=True),
        sa.Column("failure_reason", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(), nullable=True),
        sa.Column("job_id", sa.String(), nullable=True),
        _timestamp("created_at"),
        _timestamp("claimed_at", nullable=True),
        _timestamp("sent_at", nullable=True),
        _timestamp("delivered_at", nullable=True),
        _timestamp("updated_at"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index(
        "ix_outbound_message_contact_pseudonym", "outbound_message", ["contact_pseudonym"]
    )
    op.create_index("ix_outbound_message_provider_id", "outbound_message", ["provider_id"])
    op.create_index(
        "ix_outbound_message_status_updated_at", "outbound_message", ["status", "updated_at"]
    )


def downgrade() -> None:
    op.drop_table("outbound_message")
    op.drop_table("inbound_message")
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("help_sent_at")
        batch.drop_column("opted_out_at")
        batch.drop_column("opted_out")
        batch.drop_column("channel")
        batch.drop_column("number_encrypted")
