"""consultants: their phones, sites, skills and states in the queues, and the audit of state changes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consultants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("console_user_id", sa.Integer(), nullable=False),
        sa.Column("sip_username", sa.String(length=32), nullable=False),
        sa.Column("sip_digest", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=16), nullable=False),
        sa.Column("office_code", sa.String(length=32), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("logged_in", sa.Boolean(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("pause_reason", sa.String(length=32), nullable=True),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["console_user_id"],
            ["console_users.id"],
            name=op.f("fk_consultants_console_user_id_console_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultants")),
        sa.UniqueConstraint("console_user_id", name=op.f("uq_consultants_console_user_id")),
        sa.UniqueConstraint("sip_username", name=op.f("uq_consultants_sip_username")),
    )
    op.create_table(
        "consultant_skills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultant_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultant_id"],
            ["consultants.id"],
            name=op.f("fk_consultant_skills_consultant_id_consultants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultant_skills")),
        sa.UniqueConstraint(
            "consultant_id",
            "topic",
            "language",
            name=op.f("uq_consultant_skills_consultant_id_topic_language"),
        ),
    )
    op.create_table(
        "consultant_state_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultant_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultant_id"],
            ["consultants.id"],
            name=op.f("fk_consultant_state_changes_consultant_id_consultants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultant_state_changes")),
    )
    op.create_index(
        op.f("ix_consultant_state_changes_consultant_id"), "consultant_state_changes", ["consultant_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_consultant_state_changes_consultant_id"), table_name="consultant_state_changes")
    op.drop_table("consultant_state_changes")
    op.drop_table("consultant_skills")
    op.drop_table("consultants")
