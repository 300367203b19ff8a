"""what a caller said at a spoken question: the text recognised and its confidence, on the call's step

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heard", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("confidence", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_steps", schema=None) as batch_op:
        batch_op.drop_column("confidence")
        batch_op.drop_column("heard")
