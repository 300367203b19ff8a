"""offer search in newest-first order: the index holds only offers on offer, keyed for "newest first"

SQLite: the FTS5 index is rebuilt over the view ``<table>_search`` (offers not withdrawn) with a rowid that
sorts as the results do, ``days since 1970 of published_on × 2^32 + id``, so that ``MATCH … ORDER BY rowid
DESC LIMIT n`` reads the newest matches straight from the index and stops, instead of fetching and sorting
every match; the triggers keep withdrawn offers out of it. PostgreSQL: the GIN index covers offers on offer
only, and B-tree indexes on (place, published_on, id) let a search read its place's newest offers in order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("job_offers", "training_offers")
TERMS = ("terms_occupation", "terms_employer", "terms_body", "terms_place", "terms_facets")
# The FTS5 rowid of an offer (hotline.offers.search.search_rowid computes the same in Python).
RANK = "(CAST(julianday({row}published_on) - 2440587.5 AS INTEGER) * 4294967296 + {row}id)"
LIVE = "withdrawn_at IS NULL"


def _rank(row: str = "") -> str:
    return RANK.format(row=row)


def _sqlite_upgrade(table: str) -> None:
    fts = f"{table}_fts"
    columns = ", ".join(TERMS)
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {fts}_{trigger}")
    op.execute(f"DROP TABLE IF EXISTS {fts}")
    view = f"SELECT {_rank()} AS search_rowid, {columns} FROM {table} WHERE {LIVE}"
    op.execute(f"CREATE VIEW {table}_search AS {view}")
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5({columns}, content='{table}_search', "
        "content_rowid='search_rowid', tokenize='unicode61', prefix='2 3')"
    )

    def add(row: str) -> str:
        values = ", ".join(f"{row}.{column}" for column in TERMS)
        return f"INSERT INTO {fts}(rowid, {columns}) SELECT {_rank(row + '.')}, {values} WHERE {row}.{LIVE};"

    def remove(row: str) -> str:
        values = ", ".join(f"{row}.{column}" for column in TERMS)
        return (
            f"INSERT INTO {fts}({fts}, rowid, {columns}) "
            f"SELECT 'delete', {_rank(row + '.')}, {values} WHERE {row}.{LIVE};"
        )

    op.execute(f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {add('new')} END")
    op.execute(f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {remove('old')} END")
    op.execute(
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {columns}, id, published_on, withdrawn_at ON {table} "
        f"BEGIN {remove('old')} {add('new')} END"
    )
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def _sqlite_downgrade(table: str) -> None:
    fts = f"{table}_fts"
    columns = ", ".join(TERMS)
    new = ", ".join(f"new.{column}" for column in TERMS)
    old = ", ".join(f"old.{column}" for column in TERMS)
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {fts}_{trigger}")
    op.execute(f"DROP TABLE IF EXISTS {fts}")
    op.execute(f"DROP VIEW IF EXISTS {table}_search")
    # As revision 0002 made them.
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5({columns}, content='{table}', content_rowid='id', "
        "tokenize='unicode61', prefix='2 3')"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, {columns}) VALUES (new.id, {new}); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {columns}) VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {columns} ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {columns}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO {fts}(rowid, {columns}) VALUES (new.id, {new}); END"
    )
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def _postgres_upgrade(table: str) -> None:
    op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_vector")
    op.execute(f"CREATE INDEX ix_{table}_search_vector ON {table} USING gin (search_vector) WHERE {LIVE}")
    # The columns a search filters on ride along, so that the newest offers of a place are read from the
    # index alone.
    filtered = ["powiat", "voivodeship", "valid_until"] + (["working_time"] if table == "job_offers" else [])
    for name, key in (("live", ()), ("live_powiat", ("powiat",)), ("live_voivodeship", ("voivodeship",))):
        columns = ", ".join([*key, "published_on DESC", "id DESC"])
        include = ", ".join(column for column in filtered if column not in key)
        op.execute(f"CREATE INDEX ix_{table}_{name} ON {table} ({columns}) INCLUDE ({include}) WHERE {LIVE}")


def _postgres_downgrade(table: str) -> None:
    for name in ("live", "live_powiat", "live_voivodeship", "search_vector"):
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_{name}")
    op.execute(f"CREATE INDEX ix_{table}_search_vector ON {table} USING gin (search_vector)")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        (_postgres_upgrade if postgres else _sqlite_upgrade)(table)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        (_postgres_downgrade if postgres else _sqlite_downgrade)(table)
