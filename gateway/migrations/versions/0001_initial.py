"""Contacts, flow runs and USSD session records.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pseudonym", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_index("ix_contact_pseudonym", "contact", ["pseudonym"], unique=True)

    op.create_table(
        "flow_run",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("flow", sa.String(), nullable=False),
        sa.Column("contact_pseudonym", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("last_step", sa.String(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("hops", sa.Integer(), nullable=False),
        _timestamp("started_at"),
        _timestamp("ended_at"),
        sa.Column("simulated", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_flow_run_flow", "flow_run", ["flow"])
    op.create_index("ix_flow_run_contact_pseudonym", "flow_run", ["contact_pseudonym"])

    op.create_table(
        "ussd_session_record",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.String(), nullable=False),
        sa.Column("service_code", sa.String(), nullable=False),
        sa.Column("network_code", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("cost", sa.String(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("hops_count", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.String(), nullable=True),
        sa.Column("contact_pseudonym", sa.String(), nullable=True),
        sa.Column("last_response", sa.String(), nullable=True),
        _timestamp("received_at"),
    )
    op.create_index(
        "ix_ussd_session_record_session_id", "ussd_session_record", ["session_id"], unique=True
    )
    op.create_index(
        "ix_ussd_session_record_contact_pseudonym", "ussd_session_record", ["contact_pseudonym"]
    )


def downgrade() -> None:
    op.drop_table("ussd_session_record")
    op.drop_table("flow_run")
    op.drop_table("contact")
