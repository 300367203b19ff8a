"""``hotline consultant add|list|disable|enable|passwd|skills``: the consultants on the command line.

A change that touches phones (add, disable, enable, passwd) rewrites ``pjsip_consultants.conf`` of the
Asterisk this machine runs (the sandbox's, or ``asterisk_etc_dir`` for one of its own) and reloads it: no
restart. A change of state (disable logs out) reaches Asterisk's queues over AMI when the hotline runs;
otherwise the hotline applies the database's state when it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from devtools.sandbox import instance_paths, running_asterisk
from hotline.ami import AmiClient
from hotline.consultants import (
    SITES,
    ConsultantError,
    ConsultantInfo,
    ConsultantPhones,
    Consultants,
    ConsultantStates,
    parse_skill,
)
from hotline.db import create_engine, session_factory
from hotline.db.migrate import upgrade_async
from hotline.queues import Queues
from hotline.settings import Settings, ensure_secrets


def asterisk_etc(settings: Settings) -> Path | None:
    """The configuration folder of the Asterisk that serves this machine's hotline, if there is one."""
    sandbox = instance_paths(settings)
    if running_asterisk(sandbox) is not None or sandbox.host("etc").is_dir():
        return sandbox.host("etc")
    return settings.asterisk_etc_dir if settings.asterisk_etc_dir.is_dir() else None


def describe(info: ConsultantInfo) -> str:
    skills = ", ".join(f"{s.topic}:{s.language}:{s.level}" for s in info.skills)
    site = f"office {info.office_code}" if info.site == "office" else info.site
    enabled = "" if info.enabled else "  (disabled)"
    return f"{info.username:<20} {info.sip_username:<8} {site:<18} {info.state:<22} {skills}{enabled}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hotline consultant")
    sub = p.add_subparsers(dest="action", required=True)
    add = sub.add_parser(
        "add", help="make a console user a consultant, with a phone; prints its password once"
    )
    add.add_argument("username", help="the console user (hotline user add …)")
    add.add_argument("--site", choices=SITES, default="centre")
    add.add_argument("--office", default=None, help="the labour office's code (site office)")
    add.add_argument(
        "--skill", action="append", default=[], required=True, help="topic:language[:level 1-3], repeatable"
    )
    sub.add_parser("list", help="every consultant, their phone, site, state and skills")
    for name, text in (
        ("disable", "log out and remove the phone"),
        ("enable", "give the phone back"),
        ("passwd", "a new phone password (printed once)"),
    ):
        sub.add_parser(name, help=text).add_argument("username")
    skills = sub.add_parser("skills", help="replace a consultant's skills")
    skills.add_argument("username")
    skills.add_argument("--skill", action="append", default=[], required=True)
    return p


async def run(settings: Settings, args: argparse.Namespace) -> int:
    settings = ensure_secrets(settings)
    await upgrade_async(settings.effective_database_url)
    engine = create_engine(settings.effective_database_url)
    consultants = Consultants(session_factory(engine), Queues.load(settings.queues_file))
    etc = asterisk_etc(settings)
    phones = ConsultantPhones(consultants, etc, settings) if etc is not None else None
    try:
        if args.action == "list":
            for info in await consultants.all():
                print(describe(info))
            return 0
        if args.action == "add":
            info, password = await consultants.add(
                args.username,
                site=args.site,
                office_code=args.office,
                skills=[parse_skill(s) for s in args.skill],
            )
            print(describe(info))
            print(f"phone: user {info.sip_username}, password {password} (shown once), realm 19524")
        elif args.action == "passwd":
            password = await consultants.new_password(args.username)
            print(f"new phone password for {args.username}: {password} (shown once)")
        elif args.action == "skills":
            info = await consultants.set_skills(args.username, [parse_skill(s) for s in args.skill])
            await _apply_state(settings, consultants, info)
            print(describe(info))
        elif args.action in ("disable", "enable"):
            info = await consultants.set_enabled(args.username, args.action == "enable")
            await _apply_state(settings, consultants, info)
            print(describe(info))
        if phones is not None and args.action != "skills":
            reloaded = await phones.sync()
            print(
                "phones reloaded in Asterisk" if reloaded else "phones written; Asterisk reads them at start"
            )
        return 0
    except ConsultantError as exc:
        print(f"hotline consultant {args.action}: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()


async def _apply_state(settings: Settings, consultants: Consultants, info: ConsultantInfo) -> None:
    """Bring Asterisk's queues in line with ``info`` now, if the hotline's Asterisk answers (it does so
    itself at its next start otherwise)."""
    states = ConsultantStates(consultants, AmiClient(settings))
    assert states.ami is not None
    await states.ami.start()
    try:
        await states.ami.wait_connected(timeout=3)
        await states.restore()
    except Exception as exc:  # the database holds the change; the hotline applies it at its start
        print(f"(Asterisk's queues not updated now: {exc})", file=sys.stderr)
    finally:
        await states.ami.close()


def main(argv: list[str], settings: Settings) -> int:
    return asyncio.run(run(settings, parser().parse_args(argv)))
