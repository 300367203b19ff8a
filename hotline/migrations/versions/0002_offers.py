"""job offers and training offers, with their full-text index (FTS5 on SQLite, tsvector + GIN on PostgreSQL)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("job_offers", "training_offers")
TERMS = ("terms_occupation", "terms_employer", "terms_body", "terms_place", "terms_facets")
# PostgreSQL weights: occupation A, place B, employer C, the rest D.
WEIGHTS = {
    "terms_occupation": "A",
    "terms_place": "B",
    "terms_employer": "C",
    "terms_body": "D",
    "terms_facets": "D",
}


def _common() -> list[sa.Column[Any]]:
    return [
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("office_id", sa.String(64), nullable=False),
        sa.Column("office_name", sa.String(200), nullable=False),
        sa.Column("voivodeship", sa.String(2), nullable=False),
        sa.Column("powiat", sa.String(4), nullable=False),
        sa.Column("town", sa.String(200), nullable=False),
        sa.Column("town_simc", sa.String(7), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("how_to_apply", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_reason", sa.String(16), nullable=True),
        *(sa.Column(name, sa.Text(), nullable=False) for name in TERMS),
    ]


def upgrade() -> None:
    op.create_table(
        "job_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occupation_code", sa.String(6), nullable=False),
        sa.Column("occupation_name", sa.String(200), nullable=False),
        sa.Column("position", sa.String(200), nullable=True),
        sa.Column("employer_name", sa.String(200), nullable=False),
        sa.Column("employer_nip", sa.String(10), nullable=True),
        sa.Column("working_time", sa.String(16), nullable=False),
        sa.Column("shifts", sa.String(16), nullable=True),
        sa.Column("contract", sa.String(16), nullable=False),
        sa.Column("pay_min", sa.Integer(), nullable=False),
        sa.Column("pay_max", sa.Integer(), nullable=True),
        sa.Column("pay_unit", sa.String(8), nullable=False),
        sa.Column("vacancies", sa.Integer(), nullable=False),
        sa.Column("duties", sa.Text(), nullable=False),
        sa.Column("requirements", sa.Text(), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_offers")),
        sa.UniqueConstraint("source_id", name=op.f("uq_job_offers_source_id")),
    )
    op.create_table(
        "training_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("occupation_code", sa.String(6), nullable=True),
        sa.Column("occupation_name", sa.String(200), nullable=True),
        sa.Column("organiser", sa.String(200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("eligibility", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_offers")),
        sa.UniqueConstraint("source_id", name=op.f("uq_training_offers_source_id")),
    )
    op.create_index(op.f("ix_job_offers_occupation_code"), "job_offers", ["occupation_code"])
    for table in TABLES:
        for column in ("office_id", "powiat", "published_on"):
            op.create_index(op.f(f"ix_{table}_{column}"), table, [column])

    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            vector = " || ".join(
                f"setweight(to_tsvector('simple', {column}), '{WEIGHTS[column]}')" for column in TERMS
            )
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({vector}) STORED"
            )
            op.execute(f"CREATE INDEX ix_{table}_search_vector ON {table} USING gin (search_vector)")
        return
    for table in TABLES:
        columns = ", ".join(TERMS)
        new = ", ".join(f"new.{column}" for column in TERMS)
        old = ", ".join(f"old.{column}" for column in TERMS)
        # External content: the text lives once, in the table; the FTS5 table holds only the index.
        op.execute(
            f"CREATE VIRTUAL TABLE {table}_fts USING fts5({columns}, content='{table}', content_rowid='id', "
            "tokenize='unicode61', prefix='2 3')"
        )
        op.execute(
            f"CREATE TRIGGER {table}_fts_insert AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {table}_fts(rowid, {columns}) VALUES (new.id, {new}); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_fts_delete AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {table}_fts({table}_fts, rowid, {columns}) VALUES ('delete', old.id, {old}); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_fts_update AFTER UPDATE OF {columns} ON {table} BEGIN "
            f"INSERT INTO {table}_fts({table}_fts, rowid, {columns}) VALUES ('delete', old.id, {old}); "
            f"INSERT INTO {table}_fts(rowid, {columns}) VALUES (new.id, {new}); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for table in TABLES:
            for trigger in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{trigger}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
    op.drop_table("training_offers")
    op.drop_table("job_offers")
