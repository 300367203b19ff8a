"""The feed import on the real database: idempotent, updates and withdrawals applied, bad lines kept apart."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hotline.offers.feed import parse_line
from hotline.offers.generator import FeedGenerator, write_feed
from hotline.offers.importer import Progress, import_file, import_lines
from hotline.offers.models import JobOffer
from tests.offers.feed_data import TODAY, job_offer, line, unique_office

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _three(office: str) -> list[dict[str, object]]:
    return [
        job_offer(
            f"{office}/1",
            office,
            code="721204",
            occupation="Spawacz",
            employer="Polbud",
            powiat="2061",
            town="Białystok",
        ),
        job_offer(
            f"{office}/2",
            office,
            code="432103",
            occupation="Magazynier",
            employer="Omega",
            powiat="2061",
            town="Białystok",
        ),
        job_offer(
            f"{office}/3",
            office,
            code="512001",
            occupation="Kucharz",
            employer="Bar Pod Lipami",
            powiat="2002",
            town="Wasilków",
        ),
    ]


async def _stored(sessions: async_sessionmaker[AsyncSession], office: str) -> dict[str, JobOffer]:
    async with sessions() as db:
        rows = (await db.scalars(select(JobOffer).where(JobOffer.office_id == office))).all()
    return {row.source_id: row for row in rows}


async def test_the_same_feed_twice_changes_nothing(
    db_engine: AsyncEngine, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    office = unique_office()
    lines = [line(record) for record in _three(office)]
    first = await import_lines(db_engine, lines, today=TODAY, now=NOW)
    assert (first.inserted, first.updated, first.withdrawn, first.rejected) == (3, 0, 0, 0)
    before = await _stored(db_sessions, office)

    second = await import_lines(db_engine, lines, today=TODAY, now=NOW.replace(hour=10))
    assert (second.inserted, second.updated, second.withdrawn, second.rejected) == (0, 0, 0, 0)
    assert second.unchanged == 3
    after = await _stored(db_sessions, office)
    assert {k: (v.id, v.updated_at, v.withdrawn_at) for k, v in after.items()} == {
        k: (v.id, v.updated_at, v.withdrawn_at) for k, v in before.items()
    }


async def test_an_update_and_a_withdrawal_are_applied_and_nothing_is_deleted(
    db_engine: AsyncEngine, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    office = unique_office()
    first, second, third = _three(office)
    await import_lines(db_engine, [line(first), line(second), line(third)], today=TODAY, now=NOW)

    changed = {
        **first,
        "pay": {"min": 7000, "max": 9000, "unit": "month"},
        "employer": {"name": "Polbud S.A."},
    }
    summary = await import_lines(db_engine, [line(changed), line(second)], today=TODAY, now=NOW)
    assert (summary.inserted, summary.updated, summary.withdrawn, summary.rejected) == (0, 1, 1, 0)

    stored = await _stored(db_sessions, office)
    assert len(stored) == 3  # the missing offer is kept, withdrawn
    assert stored[f"{office}/1"].pay_min == 7000
    assert stored[f"{office}/1"].employer_name == "Polbud S.A."
    assert "polbud" in stored[f"{office}/1"].terms_employer
    assert stored[f"{office}/3"].withdrawn_at is not None
    assert stored[f"{office}/3"].withdrawn_reason == "missing"
    assert stored[f"{office}/2"].withdrawn_at is None

    # It comes back in the next feed: offered again, same row.
    back = await import_lines(db_engine, [line(changed), line(second), line(third)], today=TODAY, now=NOW)
    assert (back.inserted, back.updated, back.withdrawn) == (0, 1, 0)
    again = await _stored(db_sessions, office)
    assert again[f"{office}/3"].withdrawn_at is None
    assert again[f"{office}/3"].id == stored[f"{office}/3"].id


async def test_expired_offers_are_withdrawn_and_other_offices_are_left_alone(
    db_engine: AsyncEngine, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    office, other = unique_office(), unique_office()
    mine = _three(office)
    theirs = job_offer(
        f"{other}/1",
        other,
        code="522301",
        occupation="Sprzedawca",
        employer="Sklep",
        powiat="1465",
        town="Warszawa",
    )
    await import_lines(db_engine, [line(r) for r in [*mine, theirs]], today=TODAY, now=NOW)

    expired = {**mine[0], "valid_until": "2026-11-30"}
    summary = await import_lines(
        db_engine, [line(expired), line(mine[1]), line(mine[2])], today=TODAY, now=NOW
    )
    assert summary.withdrawn == 1
    stored = await _stored(db_sessions, office)
    assert stored[f"{office}/1"].withdrawn_reason == "expired"
    assert (await _stored(db_sessions, other))[f"{other}/1"].withdrawn_at is None


async def test_bad_records_are_rejected_with_their_line_and_reason_and_the_good_ones_kept(
    db_engine: AsyncEngine, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    office = unique_office()
    good1, good2, kept = _three(office)
    await import_lines(db_engine, [line(kept)], today=TODAY, now=NOW)
    broken_kept = {**kept, "pay": {"min": 9000, "max": 5000, "unit": "month"}}
    no_employer = {k: v for k, v in good2.items() if k != "employer"} | {"id": f"{office}/9"}
    lines = [
        line(good1),  # 1
        '{"type": "job_offer", "id": "x"',  # 2: cut short
        line(no_employer),  # 3
        line(
            {**good1, "id": f"{office}/8", "place": {"voivodeship": "14", "powiat": "2061", "town": "X"}}
        ),  # 4
        line(broken_kept),  # 5: a bad new version of a stored offer
        "",  # 6: blank lines are skipped
        line({**good1, "working_time": "sometimes", "id": f"{office}/7"}),  # 7
        line(good1),  # 8: the same id again
        "[1, 2, 3]",  # 9
        line(good2),  # 10
    ]
    summary = await import_lines(db_engine, lines, today=TODAY, now=NOW)
    reasons = {r.line: r.reason for r in summary.rejections}
    assert sorted(reasons) == [2, 3, 4, 5, 7, 8, 9]
    assert reasons[2].startswith("not JSON")
    assert reasons[3] == "employer is missing"
    assert reasons[4] == "place.powiat 2061 is not in voivodeship 14"
    assert reasons[5] == "pay.max is below pay.min"
    assert reasons[7].startswith("working_time must be one of")
    assert reasons[8] == f"id {office}/1 appears twice in the feed (first on line 1)"
    assert reasons[9] == "line is not a JSON object"
    assert (summary.inserted, summary.rejected, summary.withdrawn) == (2, 7, 0)

    stored = await _stored(db_sessions, office)
    assert sorted(stored) == sorted([f"{office}/1", f"{office}/2", f"{office}/3"])
    # The stored version of the offer whose new line was bad stays as it was, on offer.
    assert stored[f"{office}/3"].withdrawn_at is None
    assert stored[f"{office}/3"].pay_min == kept["pay"]["min"]  # type: ignore[index]


async def test_a_generated_feed_is_valid_and_imports_from_a_file(db_engine: AsyncEngine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    generator = FeedGenerator(seed=7, today=TODAY)
    records = list(generator.records(150, 10))
    for record in records:
        parse_line(json.dumps(record, ensure_ascii=False))
    assert records == list(FeedGenerator(seed=7, today=TODAY).records(150, 10))
    assert {r["type"] for r in records} == {"job_offer", "training"}

    feed = tmp_path / "feed.jsonl"
    with feed.open("w", encoding="utf-8") as out:
        assert write_feed(out, 150, trainings=10, seed=7, today=TODAY) == 160
    quiet = io.StringIO()
    summary = await import_file(db_engine, feed, today=TODAY, now=NOW, progress_stream=quiet)
    assert summary.rejected == 0
    assert summary.inserted + summary.skipped_expired == 160
    assert quiet.getvalue() == ""  # not a terminal: no progress bar
    again = await import_file(db_engine, feed, today=TODAY, now=NOW, progress_stream=quiet)
    assert (again.inserted, again.updated, again.withdrawn) == (0, 0, 0)
    async with db_engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(JobOffer).where(JobOffer.source_id.like("UP%/OF%"))
        )
    assert count is not None and count >= 140


def test_the_progress_bar_shows_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = Progress(1000, screen)
    progress.update(500, 10, final=True)
    assert "50.0%" in screen.getvalue()
    pipe = io.StringIO()
    Progress(1000, pipe).update(500, 10, final=True)
    assert pipe.getvalue() == ""
