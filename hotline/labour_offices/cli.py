"""``hotline offices import [FILE]`` and ``hotline offices list [--voivodeship X]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.db import create_engine, session_factory
from hotline.labour_offices.directory import LabourOfficeDirectory, Office
from hotline.labour_offices.importer import import_file, office_count
from hotline.labour_offices.records import ImportFileError
from hotline.phone import display_form
from hotline.teryt import VOIVODESHIPS, voivodeship_code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline offices", description="the directory of local labour offices"
    )
    sub = parser.add_subparsers(dest="action", required=True)
    imp = sub.add_parser(
        "import",
        help="import the offices from a CSV file (format: README, 'Local labour offices'); "
        "without FILE, the shipped sample",
    )
    imp.add_argument("file", type=Path, nargs="?", default=None)
    imp.add_argument(
        "--partial",
        action="store_true",
        help="add and update the offices of the file only (default: the file is the whole list, and offices "
        "missing from it are marked inactive)",
    )
    imp.add_argument(
        "--if-empty", action="store_true", help="import only into an empty directory (what `make run` does)"
    )
    show = sub.add_parser("list", help="list the active offices by voivodeship")
    show.add_argument("--voivodeship", default=None, help="its TERYT code or name (20, podlaskie)")
    return parser


def _describe(office: Office) -> list[str]:
    phone = display_form(office.phone)
    if not office.phone_verified:
        phone += " (placeholder, to be verified)"
    powiats = ", ".join(f"{p.teryt} {p.name}" for p in office.powiats)
    lines = [
        f"  {office.code:<10} {office.name} — {office.town}, tel. {phone}",
        f"  {'':<10} powiats: {powiats}",
    ]
    if office.branches:
        branches = ", ".join(
            f"{b.town} (tel. {display_form(b.phone)})" if b.phone else b.town for b in office.branches
        )
        lines.append(f"  {'':<10} branches: {branches}")
    return lines


async def _list(sessions: async_sessionmaker[AsyncSession], voivodeship: str | None) -> int:
    directory = LabourOfficeDirectory(sessions)
    shown = 0
    for entry in await directory.voivodeships():
        if voivodeship is not None and entry.code != voivodeship:
            continue
        offices = await directory.offices(entry.code)
        print(f"{entry.code} {entry.name}: {len(offices)} offices")
        for office in offices:
            print("\n".join(_describe(office)))
        shown += len(offices)
    total = await office_count(sessions)
    print(f"{shown} active offices shown; {total} in the directory, inactive ones included")
    return 0


async def _import(
    sessions: async_sessionmaker[AsyncSession], path: Path, *, full: bool, if_empty: bool
) -> int:
    if if_empty and await office_count(sessions):
        print("labour offices: the directory is not empty, nothing imported")
        return 0
    try:
        report = await import_file(sessions, path, full=full)
    except ImportFileError as exc:
        print(f"nothing imported: {exc}", file=sys.stderr)
        return 2
    for refusal in report.refusals:
        print(f"{path}: {refusal}", file=sys.stderr)
    print(report.describe())
    return 1 if report.refusals else 0


def main(argv: list[str], *, database_url: str, sample: Path) -> int:
    """Exit status: 0 done, 1 imported with rows refused, 2 nothing done (bad arguments or file)."""
    args = _parser().parse_args(argv)
    if not logging.getLogger().handlers:
        # Logging is not set up: the refusals are printed here, not a second time by logging's last resort.
        logging.getLogger("hotline.labour_offices").addHandler(logging.NullHandler())
    voivodeship = None
    if args.action == "list" and args.voivodeship is not None:
        voivodeship = voivodeship_code(args.voivodeship)
        if voivodeship is None:
            known = ", ".join(f"{code} {name}" for code, name in VOIVODESHIPS.items())
            print(f"unknown voivodeship {args.voivodeship[:40]!r}; one of: {known}", file=sys.stderr)
            return 2

    async def run() -> int:
        engine = create_engine(database_url)
        try:
            sessions = session_factory(engine)
            if args.action == "list":
                return await _list(sessions, voivodeship)
            return await _import(sessions, args.file or sample, full=not args.partial, if_empty=args.if_empty)
        finally:
            await engine.dispose()

    return asyncio.run(run())
