"""the directory of local labour offices (PUP): offices, the powiats each serves, their branch offices

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "labour_offices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("voivodeship", sa.String(length=2), nullable=False),
        sa.Column("town", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("phone_verified", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("search_terms", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labour_offices")),
        sa.UniqueConstraint("code", name=op.f("uq_labour_offices_code")),
    )
    op.create_index(op.f("ix_labour_offices_voivodeship"), "labour_offices", ["voivodeship"])
    op.create_table(
        "labour_office_powiats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("teryt", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["labour_offices.id"],
            name=op.f("fk_labour_office_powiats_office_id_labour_offices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labour_office_powiats")),
    )
    op.create_index(op.f("ix_labour_office_powiats_office_id"), "labour_office_powiats", ["office_id"])
    op.create_index(op.f("ix_labour_office_powiats_teryt"), "labour_office_powiats", ["teryt"])
    op.create_table(
        "labour_office_branches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("town", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["labour_offices.id"],
            name=op.f("fk_labour_office_branches_office_id_labour_offices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labour_office_branches")),
    )
    op.create_index(op.f("ix_labour_office_branches_office_id"), "labour_office_branches", ["office_id"])


def downgrade() -> None:
    op.drop_table("labour_office_branches")
    op.drop_table("labour_office_powiats")
    op.drop_table("labour_offices")
