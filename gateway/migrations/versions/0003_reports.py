"""Citizen reports: reports, their status events, Open311 API keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "report",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("ward_code", sa.String(), nullable=False),
        sa.Column("area_path", sa.String(), nullable=False),
        sa.Column("landmark", sa.String(), nullable=True),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("reporter_pseudonym", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("rejection_reason", sa.String(), nullable=True),
        sa.Column("department", sa.String(), nullable=True),
        sa.Column("duplicate_of", sa.Integer(), sa.ForeignKey("report.id"), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("long", sa.Float(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("open311_account", sa.String(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("resolved_at", nullable=True),
        sa.UniqueConstraint("run_id"),
    )
    op.create_index("ix_report_reference", "report", ["reference"], unique=True)
    op.create_index("ix_report_category", "report", ["category"])
    op.create_index("ix_report_ward_code", "report", ["ward_code"])
    op.create_index("ix_report_reporter_pseudonym", "report", ["reporter_pseudonym"])
    op.create_index("ix_report_status", "report", ["status"])
    op.create_index("ix_report_duplicate_of", "report", ["duplicate_of"])

    op.create_table(
        "report_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("report.id"), nullable=False),
        sa.Column("status_from", sa.String(), nullable=True),
        sa.Column("status_to", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        _timestamp("created_at"),
    )
    op.create_index("ix_report_event_report_id", "report_event", ["report_id"])

    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("key_hash", sa.String(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        _timestamp("created_at"),
    )
    op.create_index("ix_api_key_name", "api_key", ["name"], unique=True)
    op.create_index("ix_api_key_key_hash", "api_key", ["key_hash"], unique=True)


def downgrade() -> None:
    op.drop_table("api_key")
    op.drop_table("report_event")
    op.drop_table("report")
