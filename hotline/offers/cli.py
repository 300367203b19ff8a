"""``hotline offers import FILE`` and ``hotline offers generate N [--out FILE]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from hotline.db import create_engine
from hotline.offers.generator import write_feed
from hotline.offers.importer import import_file

# The rejected lines printed at the end of an import; all of them are in the log.
SHOWN_REJECTIONS = 20


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline offers", description="job and training offers")
    sub = parser.add_subparsers(dest="action", required=True)
    imp = sub.add_parser(
        "import", help="import an offer feed (JSON Lines, see hotline/offers/feed.schema.json)"
    )
    imp.add_argument("file", type=Path)
    gen = sub.add_parser("generate", help="write a realistic sample feed of N job offers")
    gen.add_argument("count", type=int, metavar="N")
    gen.add_argument("--out", type=Path, default=None, help="file to write (default: standard output)")
    gen.add_argument("--trainings", type=int, default=None, help="training offers (default: N/50)")
    gen.add_argument("--seed", type=int, default=19524)
    return parser


async def _import(path: Path, database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        summary = await import_file(engine, path)
    finally:
        await engine.dispose()
    for rejection in summary.rejections[:SHOWN_REJECTIONS]:
        print(f"line {rejection.line}: {rejection.reason}", file=sys.stderr)
    if len(summary.rejections) > SHOWN_REJECTIONS:
        print(
            f"… and {len(summary.rejections) - SHOWN_REJECTIONS} more rejected lines (see the log)",
            file=sys.stderr,
        )
    print(summary.describe())
    return 0


def main(argv: list[str], *, database_url: str) -> int:
    args = _parser().parse_args(argv)
    if args.action == "generate":
        if args.count < 0:
            print("N must not be negative", file=sys.stderr)
            return 2
        if args.out is None:
            write_feed(sys.stdout, args.count, trainings=args.trainings, seed=args.seed)
            return 0
        with args.out.open("w", encoding="utf-8") as out:
            lines = write_feed(out, args.count, trainings=args.trainings, seed=args.seed)
        print(f"{lines} lines written to {args.out}")
        return 0
    if not args.file.is_file():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    return asyncio.run(_import(args.file, database_url))
