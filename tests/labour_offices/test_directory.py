"""The directory on the real database: the sample's import, re-import, inactive offices, the queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hotline.db.models import Base, LabourOffice
from hotline.labour_offices import ImportFileError, LabourOfficeDirectory, import_file, import_lines
from hotline.settings import Settings
from hotline.teryt import VOIVODESHIPS
from tests.labour_offices.conftest import csv_lines

SAMPLE = Settings().labour_offices_file
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

AUGUSTOW = "PUP-2001,20,,2001 augustowski,Powiatowy Urząd Pracy w Augustowie,Augustów,87 000 00 28,no,Lipsk"
BIALYSTOK = (
    "PUP-2061,20,,2061 m. Białystok|2002 białostocki,Powiatowy Urząd Pracy w Białymstoku,Białystok,"
    "85 000 00 29,yes,"
)
LOMZA = "PUP-2062,20,,2062 m. Łomża|2007 łomżyński,Powiatowy Urząd Pracy w Łomży,Łomża,86 000 00 30,no,"


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> dict[str, LabourOffice]:
    async with sessions() as db:
        return {office.code: office for office in (await db.scalars(select(LabourOffice))).all()}


async def test_the_sample_covers_every_voivodeship_with_placeholder_numbers(
    db_sessions: async_sessionmaker[AsyncSession], directory: LabourOfficeDirectory
) -> None:
    report = await import_file(db_sessions, SAMPLE, now=NOW)
    assert (report.added, report.updated, report.deactivated, report.refusals) == (50, 0, 0, [])

    voivodeships = await directory.voivodeships()
    assert {v.code for v in voivodeships} == set(VOIVODESHIPS)
    assert all(v.offices >= 2 for v in voivodeships), voivodeships
    assert [v.name for v in voivodeships][:3] == ["dolnośląskie", "kujawsko-pomorskie", "lubelskie"]
    everything = [office for v in voivodeships for office in await directory.offices(v.code)]
    assert len(everything) == 50
    # Placeholders, not published numbers: never offered for a transfer.
    assert all(o.phone.startswith("+48") and o.phone[5:8] == "000" for o in everything)
    assert not any(o.phone_verified or o.transfer_number for o in everything)


async def test_importing_the_same_file_again_changes_nothing(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await import_file(db_sessions, SAMPLE, now=NOW)
    before = {code: (o.id, o.updated_at) for code, o in (await _stored(db_sessions)).items()}

    again = await import_file(db_sessions, SAMPLE, now=LATER)
    assert (again.added, again.updated, again.unchanged, again.deactivated, again.refused) == (0, 0, 50, 0, 0)
    after = {code: (o.id, o.updated_at) for code, o in (await _stored(db_sessions)).items()}
    assert after == before


async def test_bad_rows_are_refused_by_line_and_the_good_rows_are_kept(
    db_sessions: async_sessionmaker[AsyncSession], directory: LabourOfficeDirectory
) -> None:
    lines = csv_lines(
        AUGUSTOW,
        "PUP-3301,33,,3301 nowy,Urząd Pracy,Nigdzie,22 000 00 01,no,",
        BIALYSTOK,
        LOMZA.replace("86 000 00 30", "86 000"),
        AUGUSTOW.replace("Augustowie", "Augustowie bis"),
        "PUP-2063,20,,2063 m. Suwałki,,Suwałki,87 000 00 31,no,",
    )
    report = await import_lines(db_sessions, lines, now=NOW)
    assert [(r.line, r.reason) for r in report.refusals] == [
        (3, "unknown voivodeship '33' (a TERYT code: 02, 04, … 32)"),
        (5, "bad phone '86 000' for the office"),
        (6, "code PUP-2001 appears twice (first on line 2)"),
        (7, "missing name"),
    ]
    assert (report.added, report.refused) == (2, 4)
    assert sorted(await _stored(db_sessions)) == ["PUP-2001", "PUP-2061"]
    augustow = await directory.office("PUP-2001")
    assert augustow is not None and augustow.name == "Powiatowy Urząd Pracy w Augustowie"


async def test_an_office_missing_from_a_full_import_is_inactive_until_it_comes_back(
    db_sessions: async_sessionmaker[AsyncSession], directory: LabourOfficeDirectory
) -> None:
    await import_lines(db_sessions, csv_lines(AUGUSTOW, BIALYSTOK, LOMZA), now=NOW)

    partial = await import_lines(db_sessions, csv_lines(AUGUSTOW), full=False, now=LATER)
    assert (partial.unchanged, partial.deactivated) == (1, 0)

    report = await import_lines(db_sessions, csv_lines(AUGUSTOW, BIALYSTOK), now=LATER)
    assert (report.unchanged, report.deactivated) == (2, 1)
    lomza = await directory.office("PUP-2062")
    assert lomza is not None and not lomza.active  # kept, for the case cards that name it
    assert [o.code for o in await directory.offices("20")] == ["PUP-2001", "PUP-2061"]
    assert "2062" not in {p.teryt for p in await directory.powiats("20")}
    assert await directory.search("Łomża") == []
    assert [v.offices for v in await directory.voivodeships() if v.code == "20"] == [2]

    back = await import_lines(db_sessions, csv_lines(AUGUSTOW, BIALYSTOK, LOMZA), now=LATER)
    assert (back.updated, back.unchanged, back.deactivated) == (1, 2, 0)
    lomza = await directory.office("PUP-2062")
    assert lomza is not None and lomza.active


async def test_a_refused_row_keeps_its_office_as_stored_and_a_file_without_good_rows_changes_nothing(
    db_sessions: async_sessionmaker[AsyncSession], directory: LabourOfficeDirectory
) -> None:
    await import_lines(db_sessions, csv_lines(AUGUSTOW, BIALYSTOK), now=NOW)

    report = await import_lines(
        db_sessions,
        csv_lines(AUGUSTOW, BIALYSTOK.replace("Białymstoku", "").replace("85 000 00 29", "x")),
        now=LATER,
    )
    assert (report.unchanged, report.updated, report.deactivated, report.refused) == (1, 0, 0, 1)
    bialystok = await directory.office("PUP-2061")
    assert bialystok is not None and bialystok.active and bialystok.phone == "+48850000029"

    nothing = await import_lines(db_sessions, csv_lines("PUP-9999,99,,,,,,,"), now=LATER)
    assert (nothing.refused, nothing.deactivated) == (1, 0)
    assert [o.code for o in await directory.offices("20")] == ["PUP-2001", "PUP-2061"]

    with pytest.raises(ImportFileError):
        await import_lines(db_sessions, ["name,town"], now=LATER)
    assert len(await directory.offices("20")) == 2


async def test_a_changed_row_replaces_the_powiats_and_branches(
    db_sessions: async_sessionmaker[AsyncSession], directory: LabourOfficeDirectory
) -> None:
    await import_lines(db_sessions, csv_lines(AUGUSTOW), now=NOW)
    changed = AUGUSTOW.replace("2001 augustowski", "2001 augustowski|2009 sejneński").replace(
        ",Lipsk", ",Sztabin: 87 000 10 28|Lipsk"
    )
    report = await import_lines(db_sessions, csv_lines(changed), now=LATER)
    assert (report.updated, report.unchanged) == (1, 0)
    office = await directory.office("pup-2001")  # codes are read in any case
    assert office is not None
    assert [(p.teryt, p.name) for p in office.powiats] == [("2001", "augustowski"), ("2009", "sejneński")]
    assert [(b.town, b.phone) for b in office.branches] == [("Sztabin", "+48870001028"), ("Lipsk", None)]
    assert [o.code for o in await directory.search("sejny sejnenski")] == []
    assert [o.code for o in await directory.search("sejneński")] == ["PUP-2001"]


async def test_walking_the_directory_voivodeship_powiat_office_number(
    db_sessions: async_sessionmaker[AsyncSession], directory: LabourOfficeDirectory
) -> None:
    await import_file(db_sessions, SAMPLE, now=NOW)
    powiats = await directory.powiats("20")
    assert [(p.teryt, p.name, p.office_code) for p in powiats] == [
        ("2001", "augustowski", "PUP-2001"),
        ("2002", "białostocki", "PUP-2061"),
        ("2061", "m. Białystok", "PUP-2061"),
        ("2062", "m. Łomża", "PUP-2062"),
        ("2007", "łomżyński", "PUP-2062"),
        ("2012", "suwalski", "PUP-2063"),
        ("2063", "m. Suwałki", "PUP-2063"),
    ]
    [office] = await directory.offices("20", "2002")
    assert (office.code, office.name, office.town) == (
        "PUP-2061",
        "Powiatowy Urząd Pracy w Białymstoku",
        "Białystok",
    )
    assert office.voivodeship_name == "podlaskie"
    assert office.phone == "+48850000029"
    assert await directory.offices("14", "2002") == []  # a powiat of another voivodeship
    assert [o.code for o in await directory.offices("12")] == ["PUP-1261", "PUP-1206", "PUP-1211", "PUP-1263"]
    assert await directory.office("PUP-0000") is None


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("Łomża", "PUP-2062"),
        ("LOMZA", "PUP-2062"),
        ("lomzynski", "PUP-2062"),
        ("  Białystok ", "PUP-2061"),
        ("bialostocki", "PUP-2061"),
        ("ŁÓDŹ", "PUP-1061"),
        ("bielsko biała", "PUP-2461"),
        ("Bielsko-Biała", "PUP-2461"),
        ("rabka", "PUP-1211"),  # a branch office's town
        ("Nowa Ruda", "PUP-0208"),
        ("2063", "PUP-2063"),  # a TERYT code
        ("pup-3208", "PUP-3208"),
        ("ostrowiec swietokrzyski", "PUP-2607"),
        ("zielona", "PUP-0862"),
    ],
)
async def test_search_by_place_ignores_case_and_polish_letters(
    db_sessions: async_sessionmaker[AsyncSession], directory: LabourOfficeDirectory, typed: str, first: str
) -> None:
    await import_file(db_sessions, SAMPLE, now=NOW)
    found = await directory.search(typed)
    assert found and found[0].code == first, [o.code for o in found]


async def test_search_ranks_places_named_so_before_other_matches_and_reads_no_syntax(
    db_sessions: async_sessionmaker[AsyncSession], directory: LabourOfficeDirectory
) -> None:
    await import_file(db_sessions, SAMPLE, now=NOW)
    # Both offices seated in Kraków; the city's first (its powiat is "m. Kraków"), then by name.
    assert [o.code for o in await directory.search("krakow")] == ["PUP-1261", "PUP-1206"]
    # Two offices seated in Lublin: the city's (MUP) and the powiat lubelski's.
    assert [o.code for o in await directory.search("Lublin")] == ["PUP-0663", "PUP-0609"]
    assert len(await directory.search("urzad pracy", limit=5)) == 5
    for typed in ("", "   ", "%", "_", "%%%%", "'--"):
        assert await directory.search(typed) == [], typed
    # Only words of letters and digits are read, as bound parameters.
    assert await directory.search("' OR 1=1 --") == await directory.search("or 1 1")
    assert await directory.search("Wrocław Kraków") == []  # every word must match one office


async def test_the_tables_are_what_the_models_say(db_engine: AsyncEngine) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [
            difference
            for difference in compare_metadata(context, Base.metadata)
            if "labour_office" in repr(difference)
        ]

    async with db_engine.connect() as connection:
        assert await connection.run_sync(differences) == []
