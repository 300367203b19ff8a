"""The whole hotline in one process: Asterisk (child process), FastAGI server, AMI listener, agent console.

``hotline up`` runs :class:`Hotline` in the foreground until Ctrl-C; the end-to-end tests run the same class
with their own ports and database.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ami_listener import CallEventListener
from ami_listener.reconcile import Reconciler
from devtools.sandbox import AsteriskProcess, ensure_root, prepare_instance
from hotline.ami import AmiClient
from hotline.call_recorder import CallRecorder
from hotline.callbacks import CallbackStore
from hotline.clock import Clock, utc_now
from hotline.consultants import ConsultantPhones, Consultants, ConsultantStates
from hotline.db import create_engine, session_factory
from hotline.db.migrate import upgrade_async
from hotline.handle_times import HandleTimes
from hotline.labour_offices import LabourOfficeDirectory
from hotline.live import LiveState
from hotline.queues import Queues
from hotline.recordings import PRODUCTION_FOLDER, RECORDINGS_SUBDIR, Recordings
from hotline.settings import PRIVATE_UMASK, Settings, ensure_secrets
from hotline.transfers import CaseCards, Transfers, TransferTargets
from hotline.trunks import load_trunks
from ivr.callback_dialer import CallbackDialer
from ivr.fastagi import FastAgiServer, UniqueidLogFilter
from ivr.hours import load_hours
from ivr.prompts import PromptCatalog
from ivr.routes import build_routes
from ivr.services import IvrServices, load_ivr_services
from ivr.speech.listen import SpeechListener
from ivr.speech.recognizer import SpeechRecognition
from ivr.speech.server import AudioSocketServer
from ivr.waiting import WaitingAnnouncer, check_prompts
from launcher.watchdog import heartbeat

log = logging.getLogger(__name__)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(UniqueidLogFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s [%(uniqueid)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def build_prompts(settings: Settings) -> Path:
    """Generate (incrementally) the prompts Asterisk plays; returns the folder holding ``<lang>/<id>.wav``."""
    from ivr.prompts.build import build_prompts as build

    build(settings.prompts_file, settings.prompts_dir)
    return settings.prompts_dir


def raise_fd_limit(needed: int) -> None:
    """Raise this process's soft limit of open files to ``needed`` (within the hard limit): every call holds
    sockets (SIP driver, FastAGI, AMI), and the usual soft limit of 1024 is below a busy hotline's."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


@dataclass
class Hotline:
    settings: Settings
    # Run Asterisk from the sandbox; False for an Asterisk of its own (Docker), reached over AMI and FastAGI.
    manage_asterisk: bool = True
    with_console: bool = True
    # Keep and use a running Asterisk of this instance (the previous worker's) instead of restarting it.
    adopt_asterisk: bool = False
    asterisk: AsteriskProcess | None = None
    agi: FastAgiServer | None = None
    ami: AmiClient | None = None
    # An AMI connection with every event, for tools and tests (test calls follow AGI commands).
    tools_ami: bool = False
    listener_ami: AmiClient | None = None
    listener: CallEventListener | None = None
    recorder: CallRecorder | None = None
    recordings: Recordings | None = None
    live: LiveState | None = None
    engine: AsyncEngine | None = None
    services: IvrServices | None = None
    speech: SpeechListener | None = None
    # Announcements to callers waiting in a queue; None when switched off.
    waiting: WaitingAnnouncer | None = None
    # The AMI connection of the consultants' states, the call-back dialler and the waiting announcer.
    services_ami: AmiClient | None = None
    consultants: Consultants | None = None
    consultant_states: ConsultantStates | None = None
    case_cards: CaseCards | None = None
    transfer_targets: TransferTargets | None = None
    transfers: Transfers | None = None
    phones: ConsultantPhones | None = None
    callbacks: CallbackDialer | None = None
    # The IVR's clock (opening hours): tests pin it to a working day, an evening, a holiday.
    clock: Clock = utc_now
    _console: Any = None
    _stack: list[Any] = field(default_factory=list)

    async def start(self) -> None:
        self.settings = ensure_secrets(self.settings)
        settings = self.settings
        queues = Queues.load(settings.queues_file)
        # A bad trunk setting (or a registration without its password) stops the start here, with its message.
        trunks = load_trunks(settings)
        url = settings.effective_database_url
        await upgrade_async(url)
        self.engine = create_engine(url)
        sessions = session_factory(self.engine)
        prompts = await asyncio.to_thread(build_prompts, settings)
        self.consultants = Consultants(sessions, queues, now=self.clock)

        if self.manage_asterisk:
            await asyncio.to_thread(ensure_root, settings)
            # Under the watchdog the instance belongs to the supervisor, which outlives each worker.
            owner = os.getppid() if self.adopt_asterisk else os.getpid()
            paths = await asyncio.to_thread(
                prepare_instance, settings, queues, prompts, owner=owner, trunks=trunks
            )
            # A worker started by the watchdog takes over the Asterisk its predecessor left running.
            self.asterisk = AsteriskProcess(settings, paths, adopt=self.adopt_asterisk)
            # The consultants' phones, from the database, before Asterisk reads its configuration.
            self.phones = ConsultantPhones(self.consultants, paths.host("etc"), settings)
            await self.phones.write()
            # What Asterisk writes about calls (logs, queue_log, recordings) is no other user's to read: it
            # inherits this umask. Only for its start: the prompts and the sandbox laid out above are public.
            previous = os.umask(PRIVATE_UMASK)
            try:
                await self.asterisk.start()
            finally:
                os.umask(previous)
            sounds_dir = paths.seen_by_asterisk("sounds")
            call_record = paths.host("log", "cdr-custom", "hotline-calls.json")
            recordings_dir = paths.host("spool", "monitor", RECORDINGS_SUBDIR)
        else:
            sounds_dir = settings.asterisk_sounds_dir
            call_record = settings.asterisk_call_record
            recordings_dir = Path(settings.recordings_dir) if settings.recordings_dir else PRODUCTION_FOLDER
            self.phones = ConsultantPhones(self.consultants, settings.asterisk_etc_dir, settings)
            await self.phones.sync()

        # One AMI connection (the services' user) for the consultants' states, the call-back dialler and the
        # waiting announcements, started once all three follow it; each has its own queue of its events.
        self.services_ami = AmiClient(settings)
        # Consultants' states rebuild Asterisk's queue members from the database at every login: after this
        # start, and after any restart of Asterisk.
        self.consultant_states = ConsultantStates(self.consultants, self.services_ami, owns_connection=False)
        await self.consultant_states.start()
        # Transfers: the case cards, the targets, and the console's transfers over the same AMI connection.
        self.case_cards = CaseCards(sessions, now=self.clock)
        self.transfer_targets = TransferTargets(queues, settings, LabourOfficeDirectory(sessions))
        self.transfers = Transfers(self.services_ami, self.case_cards, self.transfer_targets)

        self.recorder = CallRecorder(self.engine)
        self.recorder.start()
        # The metadata of the recordings of calls with a consultant, from the dialplan's events.
        self.recordings = Recordings(sessions, recordings_dir, now=self.clock)
        self.recordings.start()
        self.live = LiveState(
            settings.redis_url, prefix=settings.redis_prefix, stream_hours=settings.live_stream_hours
        )
        await self.live.start_fresh()
        await self.start_speech()
        # Call-backs: placeholders hold callers' places in the queues.
        self.callbacks = CallbackDialer(
            settings,
            CallbackStore(sessions, now=self.clock),
            queues,
            load_hours(settings.hours_file),
            self.services_ami,
            sounds_dir,
            now=self.clock,
            owns_connection=False,
        )
        await self.callbacks.start()
        self.services = load_ivr_services(
            settings,
            sessions,
            self.recorder,
            sounds_dir,
            queues=queues,
            now=self.clock,
            live=self.live,
            speech=self.speech,
            consultant_states=self.consultant_states,
            case_cards=self.case_cards,
            transfer_targets=self.transfer_targets,
            callback_dialer=self.callbacks,
        )
        await self.start_waiting(queues)
        # Every service of the shared connection follows it now: it may log in.
        await self.services_ami.start()
        await self.start_agi()

        self.listener_ami = AmiClient(settings, username=settings.ami_listener_username)
        reconciler = Reconciler(
            call_record,
            settings.state_dir / "cdr-position.json",
            self.recorder,
            region=settings.default_region,
            keep_withheld=settings.keep_withheld_numbers,
        )
        self.listener = CallEventListener(
            self.listener_ami,
            self.recorder,
            settings,
            self.live,
            reconciler=reconciler,
            recordings=self.recordings,
        )
        # At every login, the first included: what Asterisk recorded while nobody listened.
        self.listener_ami.on_login(self.listener.reconcile)
        await self.listener.start()
        await self.listener_ami.start()
        if self.manage_asterisk:
            await self.listener_ami.wait_connected()
        if self.tools_ami:
            self.ami = AmiClient(settings)
            await self.ami.start()
            await self.ami.wait_connected()

        if self.with_console:
            from agent_console.app import start_console

            self._console = await start_console(
                settings,
                engine=self.engine,
                consultant_states=self.consultant_states,
                transfers=self.transfers,
            )

    def asterisk_path(self, *parts: str) -> Path:
        """A path of this instance's Asterisk folders, on the host."""
        assert self.asterisk is not None
        return self.asterisk.paths.host(*parts)

    async def start_agi(self) -> None:
        settings = self.settings
        assert self.services is not None
        self.agi = FastAgiServer(
            build_routes(self.services),
            settings.fastagi_host,
            settings.fastagi_port,
            header_timeout=settings.fastagi_header_timeout,
        )
        await self.agi.start()

    async def start_waiting(self, queues: Queues) -> None:
        """Announcements of the place in line and the expected wait (settings wait_announce_seconds)."""
        settings = self.settings
        if settings.wait_announce_seconds <= 0:
            return
        assert self.services is not None
        catalog = PromptCatalog.load(settings.prompts_file)
        check_prompts(catalog)
        assert self.services_ami is not None
        self.waiting = WaitingAnnouncer(
            self.services_ami,
            HandleTimes(settings.redis_url, prefix=settings.redis_prefix),
            sounds_dir=self.services.sounds_dir,
            languages=catalog.languages,
            period_s=settings.wait_announce_seconds,
            default_handle_s=settings.wait_default_handle_seconds,
            wrapup_s=queues.wrapup_seconds,
            routing=queues.routing,
        )
        await self.waiting.start()

    async def start_speech(self) -> None:
        """Load the speech model (none configured: speech is off) and open the AudioSocket server."""
        settings = self.settings
        recognition = await SpeechRecognition.load(
            settings.speech_model_path, settings.speech_streams, settings.speech_processes
        )
        if recognition is None:
            return
        server = AudioSocketServer(settings.audiosocket_host, settings.audiosocket_port)
        await server.start()
        self.speech = SpeechListener(server, recognition, prompts_dir=settings.prompts_dir)

    async def stop_speech(self) -> None:
        if self.speech is not None:
            await self.speech.server.close()
            await self.speech.recognition.close()
            self.speech = None

    async def stop_agi(self) -> None:
        if self.agi is not None:
            await self.agi.close()
            self.agi = None

    async def stop(self) -> None:
        if self._console is not None:
            with contextlib.suppress(Exception):
                await self._console.cleanup()
            self._console = None
        if self.listener is not None:
            await self.listener.close()
        if self.ami is not None:
            await self.ami.close()
        if self.consultant_states is not None:
            await self.consultant_states.close()
        if self.callbacks is not None:
            await self.callbacks.close()
        if self.listener_ami is not None:
            await self.listener_ami.close()
        if self.waiting is not None:
            await self.waiting.close()
            await self.waiting.handle_times.close()
        if self.services_ami is not None:
            await self.services_ami.close()  # after its services
        await self.stop_agi()
        await self.stop_speech()
        if self.live is not None:
            await self.live.close()  # after the IVR: what it reported is published
        if self.recordings is not None:
            await self.recordings.close()  # after the listener: what it reported is written
        if self.recorder is not None:
            await self.recorder.close()  # after both of its writers: what they reported is written
        if self.asterisk is not None:
            await self.asterisk.stop()
        if self.engine is not None:
            await self.engine.dispose()

    def banner(self) -> str:
        s = self.settings
        return "\n".join(
            [
                "",
                "  19524 Zielona Linia is up.",
                f"  Agent console:   http://{s.console_host}:{s.console_port}/"
                '   (add a user: .venv/bin/hotline user add NAME --display-name "…" --role supervisor)',
                f"  SIP (UDP):       {s.sip_host}:{s.sip_port}   AMI: {s.ami_host}:{s.ami_port}"
                f"   FastAGI: {s.fastagi_address}",
                "  Test call:       .venv/bin/hotline call 19524 --dtmf 1,0",
                "  Stop:            Ctrl-C",
                "",
            ]
        )


async def run_forever(
    settings: Settings, *, manage_asterisk: bool = True, adopt_asterisk: bool = False
) -> None:
    hotline = Hotline(settings, manage_asterisk=manage_asterisk, adopt_asterisk=adopt_asterisk)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    beating: asyncio.Task[None] | None = None
    try:
        await hotline.start()
        # Everything loaded at start-up lives as long as the process: keep it out of the collector's full
        # passes, which otherwise stall calls for tens of milliseconds under load.
        gc.freeze()
        print(hotline.banner(), flush=True)
        # Up: from now on the watchdog expects this loop's heartbeat.
        beating = asyncio.create_task(heartbeat(settings), name="watchdog-heartbeat")
        await stop.wait()
        log.info("stopping")
    finally:
        if beating is not None:
            beating.cancel()
        await hotline.stop()
