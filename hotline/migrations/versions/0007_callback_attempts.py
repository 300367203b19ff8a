"""call-backs that keep the caller's place: the request's kind, language, queue and place, its attempts

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="after_hours", nullable=False)
        )
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("queue", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_result", sa.String(length=16), nullable=True))
    op.create_table(
        "callback_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dialed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consultant", sa.String(length=40), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["callback_requests.id"],
            name=op.f("fk_callback_attempts_request_id_callback_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempts")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_callback_attempts_channel_id")),
    )
    op.create_index(op.f("ix_callback_attempts_request_id"), "callback_attempts", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_callback_attempts_request_id"), table_name="callback_attempts")
    op.drop_table("callback_attempts")
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        for column in ("last_result", "next_attempt_at", "attempts", "position", "queue", "language", "kind"):
            batch_op.drop_column(column)
