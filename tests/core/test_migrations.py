"""The migrations form one line: engineers adding a migration each at the same time must not fork it."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from hotline.db.migrate import alembic_config


def test_the_migrations_have_one_head_and_unique_ids() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite:///:memory:"))
    assert len(scripts.get_heads()) == 1, scripts.get_heads()
    revisions = list(scripts.walk_revisions())
    assert len({r.revision for r in revisions}) == len(revisions)
    # File names start with their revision id, so the folder reads in order.
    for revision in revisions:
        assert revision.path is not None and revision.path.rsplit("/", 1)[-1].startswith(revision.revision)
