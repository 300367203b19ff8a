"""The ``hotline`` command: ``up``, ``call``, ``migrate``, ``prompts``, ``user``, ``consultant``, ``offers``,
``offices``, ``purge``, ``recordings``, ``caller``, ``speech``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from hotline.settings import Settings, ensure_secrets, load_settings, prepare_state_dir


def _up(settings: Settings, args: argparse.Namespace) -> int:
    from launcher.runner import configure_logging, run_forever
    from launcher.watchdog import die_with_parent, supervise

    if not _trunks_valid(settings) or not _transfers_valid(settings):
        return 2
    configure_logging()
    if args.worker or args.no_watchdog:
        if args.worker:
            die_with_parent()
        # Under the watchdog, an Asterisk left running by the previous worker keeps its calls.
        asyncio.run(
            run_forever(settings, manage_asterisk=not args.external_asterisk, adopt_asterisk=args.worker)
        )
        return 0
    # The hotline runs in a worker process; this one is its watchdog (launcher/watchdog.py).
    return supervise(settings, ["--external-asterisk"] if args.external_asterisk else [])


def _trunks_valid(settings: Settings) -> bool:
    """Check the carrier trunks' settings before anything starts; a bad one is reported in one line."""
    from hotline.trunks import TrunksError, load_trunks

    try:
        load_trunks(settings)
    except TrunksError as exc:
        print(f"bad trunk settings: {exc}", file=sys.stderr)
        return False
    return True


def _transfers_valid(settings: Settings) -> bool:
    """Check the transfers' settings (ECAM's external number, the topics' codes) before anything starts."""
    from hotline.queues import Queues, QueuesError
    from hotline.transfers import TransferError, TransferTargets

    try:
        TransferTargets(Queues.load(settings.queues_file), settings)
    except QueuesError:
        return True  # reported where the queues are loaded
    except TransferError as exc:
        print(f"bad transfer settings: {exc}", file=sys.stderr)
        return False
    return True


def _asterisk_config(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.asterisk_config import RunAs, write_production_config
    from hotline.queues import Queues
    from launcher.runner import build_prompts

    settings = ensure_secrets(settings)
    queues = Queues.load(settings.queues_file)
    if not _trunks_valid(settings) or not _transfers_valid(settings):
        return 2
    group = args.asterisk_gid
    if group is None:
        group = RunAs.from_root(Path("/")).gid  # Asterisk on this very system
    write_production_config(
        settings, queues, Path(args.etc), Path(args.sounds), build_prompts(settings), group=group
    )
    print(f"Asterisk configuration in {args.etc}, prompts in {args.sounds}")
    return 0


def _call(settings: Settings, args: argparse.Namespace) -> int:
    from devtools.sandbox import instance_paths
    from devtools.testcall import TestCallError, place_test_call
    from hotline.ami import AmiClient, AmiError

    logging.basicConfig(level=logging.WARNING)
    settings = ensure_secrets(settings)
    digits = [d for d in args.dtmf.split(",")] if args.dtmf else []

    async def run() -> int:
        ami = AmiClient(settings)
        await ami.start()
        try:
            await ami.wait_connected(timeout=10)
            result = await place_test_call(
                ami,
                args.number,
                digits,
                caller=args.caller,
                timeout=args.timeout,
                type_ahead_from=None if args.patient else 0,
                recordings_dir=instance_paths(settings).host("spool", "monitor"),
                # Ends where the caller would have to answer: a question, the queue or the end.
                until="question",
            )
        except (AmiError, TestCallError) as exc:
            print(f"test call failed: {exc}", file=sys.stderr)
            print("Is the hotline running (`make run` or `hotline up`)?", file=sys.stderr)
            return 1
        finally:
            await ami.close()
        print(result.describe())
        return 0 if result.answered else 1

    return asyncio.run(run())


def _asterisk(settings: Settings, args: argparse.Namespace) -> int:
    import subprocess

    from devtools.sandbox import asterisk_command, instance_paths

    paths = instance_paths(settings)
    if not paths.host("run", "asterisk.ctl").exists():
        print(
            f"no Asterisk runs for instance {settings.asterisk_instance!r} (is `make run` up?); for an "
            "Asterisk of its own: docker compose exec asterisk asterisk -rx '…'",
            file=sys.stderr,
        )
        return 1
    extra = ["-rx", args.execute] if args.execute else ["-r"]
    return subprocess.call(asterisk_command(settings, paths, *extra))


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from hotline.db.migrate import upgrade

    upgrade(settings.effective_database_url)
    print(f"database is at the latest schema: {settings.effective_database_url.split('@')[-1]}")
    return 0


def _prompts(settings: Settings, _args: argparse.Namespace) -> int:
    from ivr.prompts import PromptCatalog
    from ivr.prompts.budget import check_built_prompts
    from launcher.runner import build_prompts

    out = build_prompts(settings)
    report = check_built_prompts(settings)
    print(report.table())
    for prompt_id, note in PromptCatalog.load(settings.prompts_file).reviews.items():
        print(f"awaiting review by {note}: {prompt_id}")
    for overrun in report.overruns:
        print(f"over budget: {overrun}", file=sys.stderr)
    if not report.ok:
        print(f"prompts built in {out}, but {len(report.overruns)} over budget", file=sys.stderr)
        return 1
    print(f"prompts ready in {out}")
    return 0


def _speech(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.speech.check import check_speech
    from ivr.speech.recognizer import SpeechModelError

    logging.basicConfig(level=logging.WARNING)
    model = args.model if args.model is not None else settings.speech_model_path
    try:
        result = asyncio.run(check_speech(model, args.phrase, voice=args.voice, grammar=args.grammar))
    except (SpeechModelError, ValueError) as exc:
        print(f"speech check failed: {exc}", file=sys.stderr)
        return 1
    print(result.describe())
    return 0 if result.ok else 1


def _offers(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.offers.cli import main as offers_main

    return offers_main(args.offers_args, database_url=settings.effective_database_url)


def _offices(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.labour_offices.cli import main as offices_main

    return offices_main(
        args.offices_args, database_url=settings.effective_database_url, sample=settings.labour_offices_file
    )


def _user(settings: Settings, args: argparse.Namespace) -> int:
    from agent_console.users import main as users_main

    return users_main(args.user_args, database_url=settings.effective_database_url, settings=settings)


def _consultant(settings: Settings, args: argparse.Namespace) -> int:
    from launcher.consultant_cli import main as consultant_main

    return consultant_main(args.consultant_args, settings)


def asterisk_folder(settings: Settings, setting: str, sandbox: tuple[str, ...], production: Path) -> Path:
    """A folder of Asterisk's as the hotline sees it: the setting when given; without it the sandbox
    instance's (``make run``: ``sandbox`` under its root), when there is one, else ``production``, the one
    of an Asterisk of its own."""
    from devtools.sandbox import instance_paths

    if setting:
        return Path(setting)
    paths = instance_paths(settings)
    return paths.host(*sandbox) if paths.host().is_dir() else production


def recordings_folder(settings: Settings) -> Path:
    from hotline.recordings import PRODUCTION_FOLDER, RECORDINGS_SUBDIR

    sandbox = ("spool", "monitor", RECORDINGS_SUBDIR)
    return asterisk_folder(settings, settings.recordings_dir, sandbox, PRODUCTION_FOLDER)


def asterisk_log_folder(settings: Settings) -> Path:
    return asterisk_folder(settings, settings.asterisk_log_dir, ("log",), Path("/var/log/asterisk"))


async def _purge_asterisk_logs(settings: Settings) -> None:
    from datetime import timedelta

    from hotline.asterisk_logs import rotate_and_prune
    from hotline.clock import utc_now

    report = await rotate_and_prune(
        settings,
        asterisk_log_folder(settings),
        timedelta(days=settings.log_retention_days),
        now=utc_now(),
    )
    rotated = "rotated" if report.rotated else "not rotated (Asterisk does not answer)"
    print(f"Asterisk's logs {rotated}; rotated logs deleted: {report.deleted}")


async def _purge_recordings(settings: Settings) -> None:
    from datetime import timedelta

    from hotline.clock import utc_now
    from hotline.db import create_engine, session_factory
    from hotline.recordings import Recordings

    engine = create_engine(settings.effective_database_url)
    try:
        recordings = Recordings(session_factory(engine), recordings_folder(settings))
        completed = await recordings.complete_unfinished()
        if completed:
            print(f"recordings whose end was missed, completed from their files: {completed}")
        report = await recordings.purge(timedelta(days=settings.recording_retention_days), now=utc_now())
    finally:
        await engine.dispose()
    print(
        f"recordings deleted: {report.files_deleted} (rows marked; files already gone: "
        f"{report.files_missing}; files without a row deleted: {report.unrecorded_deleted})"
    )


def _recordings(settings: Settings, _args: argparse.Namespace) -> int:
    asyncio.run(_purge_recordings(settings))
    return 0


def _purge(settings: Settings, _args: argparse.Namespace) -> int:
    from hotline.clock import utc_now
    from hotline.db import create_engine, session_factory
    from hotline.live import LiveState
    from hotline.personal_data import Retention, purge

    # The generated secrets: the configuration user's AMI secret rotates Asterisk's logs.
    settings = ensure_secrets(settings)

    async def run() -> int:
        engine = create_engine(settings.effective_database_url)
        try:
            report = await purge(session_factory(engine), Retention.from_settings(settings), now=utc_now())
        finally:
            await engine.dispose()
        print(
            f"calls anonymised: {report.calls_anonymised}, menu steps deleted: {report.steps_deleted}, "
            f"call-back requests deleted: {report.callbacks_deleted}, "
            f"case cards deleted: {report.case_cards_deleted}"
        )
        await _purge_recordings(settings)
        await _purge_asterisk_logs(settings)
        live = LiveState(
            settings.redis_url, prefix=settings.redis_prefix, stream_hours=settings.live_stream_hours
        )
        try:
            if not await live.ping():
                print("live state not trimmed: Redis does not answer", file=sys.stderr)
                return 1
            print(f"live state: {await live.forget_stale()} calls whose end was never seen dropped")
        finally:
            await live.close()
        return 0

    return asyncio.run(run())


def _caller(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from hotline.db import create_engine, session_factory
    from hotline.live import LiveState
    from hotline.personal_data import erase_number, export_number
    from hotline.phone import NotAPhoneNumber
    from hotline.recordings import Recordings

    async def run() -> int:
        engine = create_engine(settings.effective_database_url)
        live = LiveState(settings.redis_url, prefix=settings.redis_prefix)
        try:
            sessions = session_factory(engine)
            recordings = Recordings(sessions, recordings_folder(settings))
            if args.action == "export":
                held = await export_number(sessions, args.number, settings.default_region)
                print(json.dumps(held, ensure_ascii=False, indent=2))
                return 0
            reachable = await live.ping()
            report = await erase_number(
                sessions,
                args.number,
                settings.default_region,
                live=live if reachable else None,
                recordings=recordings,
            )
            print(
                f"calls anonymised: {report.calls}, call-back requests deleted: {report.callback_requests}, "
                f"live state entries removed: {report.live_entries}, "
                f"recordings deleted: {report.recordings}, case cards deleted: {report.case_cards}"
            )
            if not reachable:
                print("the live state was not searched: Redis does not answer", file=sys.stderr)
                return 1
            return 0
        except NotAPhoneNumber as exc:
            print(f"not a phone number ({exc.reason}): {args.number[:40]!r}", file=sys.stderr)
            return 2
        finally:
            await live.close()
            await engine.dispose()

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hotline", description="19524 Zielona Linia contact centre")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole hotline in the foreground (Asterisk, IVR, AMI, console)")
    up.add_argument(
        "--external-asterisk",
        action="store_true",
        help="do not run the sandboxed Asterisk; use one of its own (see docker-compose.yml)",
    )
    up.add_argument(
        "--no-watchdog",
        action="store_true",
        help="run in this process, without the watchdog that replaces a worker which stops answering",
    )
    up.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    conf = sub.add_parser("asterisk-config", help="write the configuration for an Asterisk of its own")
    conf.add_argument("--etc", required=True, help="its configuration folder (e.g. /etc/asterisk)")
    conf.add_argument(
        "--sounds", required=True, help="where it reads the prompts (HOTLINE_ASTERISK_SOUNDS_DIR)"
    )
    conf.add_argument(
        "--asterisk-gid",
        type=int,
        default=None,
        help="the group Asterisk runs as, which alone may read the configuration "
        "(default: the group of the user 'asterisk' of this system)",
    )

    call = sub.add_parser("call", help="place a real SIP test call into the running hotline")
    call.add_argument("number", nargs="?", default="19524")
    call.add_argument("--dtmf", default="", help="digits to press, comma-separated, e.g. 1,0")
    call.add_argument("--caller", default=None, help="caller number to present (default: a random +48600…)")
    call.add_argument("--timeout", type=float, default=120.0)
    call.add_argument(
        "--patient", action="store_true", help="press each key after the prompts end (default: type ahead)"
    )

    cli = sub.add_parser("asterisk", help="the running sandbox Asterisk's CLI (a console, or -x COMMAND)")
    cli.add_argument("-x", "--execute", metavar="COMMAND", help="run one CLI command, e.g. 'queue show'")

    sub.add_parser("migrate", help="apply the database migrations")
    sub.add_parser(
        "prompts",
        help="generate the IVR prompts (espeak-ng + sox) from recordings/prompts.yaml, report their lengths "
        "and fail on one over budget",
    )

    sub.add_parser(
        "purge",
        help="anonymise and delete what is past its retention (call_retention_days, step_retention_days, "
        "callback_retention_days, recording_retention_days); the figures stay",
    )
    recordings = sub.add_parser("recordings", help="recordings of calls with a consultant")
    recordings.add_argument(
        "action",
        choices=("purge",),
        help="purge: delete the files past recording_retention_days, their rows marked",
    )
    caller = sub.add_parser("caller", help="a caller's personal data: export it (JSON) or erase it")
    caller.add_argument("action", choices=("export", "erase"))
    caller.add_argument("number", help="the phone number, in any form the console accepts")

    user = sub.add_parser("user", help="manage console users (add, passwd, disable, enable)")
    user.add_argument("user_args", nargs=argparse.REMAINDER)

    consultant = sub.add_parser(
        "consultant", help="consultants and their phones (add, list, disable, enable, passwd, skills)"
    )
    consultant.add_argument("consultant_args", nargs=argparse.REMAINDER)

    speech = sub.add_parser("speech", help="speech recognition: 'check' loads the model, recognises a phrase")
    speech.add_argument("action", choices=("check",))
    speech.add_argument("--model", default=None, help="a Vosk model folder (default: speech_model_path)")
    speech.add_argument("--phrase", default="konsultant", help="what espeak-ng says (default: konsultant)")
    speech.add_argument("--voice", default="pl", help="espeak-ng's voice, the model's language (default: pl)")
    speech.add_argument(
        "--grammar", nargs="*", default=["praca", "zasiłek", "rejestracja"], help="other phrases it may hear"
    )

    offers = sub.add_parser("offers", help="job and training offers (import FILE, generate N)")
    offers.add_argument("offers_args", nargs=argparse.REMAINDER)
    offices = sub.add_parser(
        "offices", help="the directory of local labour offices (import [FILE], list [--voivodeship X])"
    )
    offices.add_argument("offices_args", nargs=argparse.REMAINDER)

    args = parser.parse_args(argv)
    settings = load_settings()
    # The state folder (database, secrets) is the hotline user's alone; Asterisk runs with a private umask
    # (launcher/runner.py), and the database file is created private (hotline/db/engine.py).
    prepare_state_dir(settings)
    handlers = {
        "up": _up,
        "asterisk-config": _asterisk_config,
        "call": _call,
        "asterisk": _asterisk,
        "migrate": _migrate,
        "prompts": _prompts,
        "user": _user,
        "consultant": _consultant,
        "purge": _purge,
        "recordings": _recordings,
        "caller": _caller,
        "offers": _offers,
        "offices": _offices,
        "speech": _speech,
    }
    return handlers[args.command](settings, args)


if __name__ == "__main__":
    sys.exit(main())
