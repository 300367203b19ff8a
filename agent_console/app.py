"""The console application: ``create_app(settings)``, and ``start_console`` to serve it in a running loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_console import keys
from agent_console.auth import auth_middleware
from agent_console.formatting import Formatter
from agent_console.forwarded import TrustedProxies
from agent_console.middlewares import add_security_headers, error_middleware
from agent_console.routes import setup_routes
from agent_console.security import PasswordWorkers, SessionCodec, derive_key
from agent_console.server import ConsoleRunner
from agent_console.session_epochs import SessionEpochs
from agent_console.shared_state import SharedState
from agent_console.texts import DEFAULT_LANGUAGE, load_texts
from agent_console.throttle import LoginThrottle
from hotline.ami import AmiClient
from hotline.clock import Clock, utc_now
from hotline.consultants import Consultants, ConsultantStates
from hotline.db import create_engine, session_factory
from hotline.labour_offices import LabourOfficeDirectory
from hotline.queues import Queues
from hotline.settings import Settings
from hotline.transfers import CaseCards, Transfers, TransferTargets

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# Forms are a few short fields; anything bigger is refused by aiohttp with a 413 before it is read.
MAX_REQUEST_BODY = 64 * 1024


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    clock: Clock = utc_now,
    language: str = DEFAULT_LANGUAGE,
    consultant_states: ConsultantStates | None = None,
    transfers: Transfers | None = None,
) -> web.Application:
    """The console for ``settings``. Pass ``engine`` to share one with the rest of the process (it is then
    left open); otherwise the console opens its own on startup and closes it on cleanup."""
    app = web.Application(
        middlewares=[error_middleware, auth_middleware],
        client_max_size=MAX_REQUEST_BODY,
    )
    texts = load_texts(language)
    formatter = Formatter(texts=texts, timezone=ZoneInfo(settings.timezone), region=settings.default_region)
    app[keys.SETTINGS] = settings
    app[keys.TEXTS] = texts
    app[keys.FORMATTER] = formatter
    app[keys.CLOCK] = clock
    app[keys.SESSION_CODEC] = SessionCodec(derive_key(settings.console_session_key, b"session cookie"))
    app[keys.FINGERPRINT_KEY] = derive_key(settings.console_session_key, b"password fingerprint")
    app[keys.TRUSTED_PROXIES] = TrustedProxies.parse(settings.console_trusted_proxies)

    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(t=texts, fmt=formatter)

    app[keys.ROUTE_ACCESS] = setup_routes(app)
    app.cleanup_ctx.append(_database(engine))
    app.cleanup_ctx.append(_desk(consultant_states))
    app.cleanup_ctx.append(_transfers(transfers))
    app.cleanup_ctx.append(_sign_in_state)
    app.on_response_prepare.append(add_security_headers)
    return app


def _database(shared: AsyncEngine | None) -> Callable[[web.Application], AsyncIterator[None]]:
    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = shared or create_engine(app[keys.SETTINGS].effective_database_url)
        app[keys.ENGINE] = engine
        app[keys.DB] = session_factory(engine)
        yield
        if shared is None:
            await engine.dispose()

    return database


def _desk(shared: ConsultantStates | None) -> Callable[[web.Application], AsyncIterator[None]]:
    """The consultants' states for the desk panel: the hotline's own when it runs in this process; otherwise
    one of the console's, with its own AMI connection (none without an AMI secret: the database alone)."""

    async def desk(app: web.Application) -> AsyncIterator[None]:
        if shared is not None:
            app[keys.CONSULTANT_STATES] = shared
            yield
            return
        settings = app[keys.SETTINGS]
        consultants = Consultants(app[keys.DB], Queues.load(settings.queues_file))
        states = ConsultantStates(consultants, AmiClient(settings) if settings.ami_secret else None)
        await states.start()
        app[keys.CONSULTANT_STATES] = states
        try:
            yield
        finally:
            await states.close()

    return desk


def _transfers(shared: Transfers | None) -> Callable[[web.Application], AsyncIterator[None]]:
    """Transfers: the hotline's own when it runs in this process; otherwise over the desk's AMI connection
    (none: the form refuses, the call page still shows the case cards)."""

    async def transfers(app: web.Application) -> AsyncIterator[None]:
        cards = shared.cards if shared is not None else CaseCards(app[keys.DB], now=app[keys.CLOCK])
        app[keys.CASE_CARDS] = cards
        if shared is not None:
            app[keys.TRANSFERS] = shared
        else:
            states = app[keys.CONSULTANT_STATES]
            settings = app[keys.SETTINGS]
            targets = TransferTargets(states.queues, settings, LabourOfficeDirectory(app[keys.DB]))
            app[keys.TRANSFERS] = Transfers(states.ami, cards, targets)
        yield

    return transfers


async def _sign_in_state(app: web.Application) -> AsyncIterator[None]:
    """The password workers, and the state shared with other console processes (throttling, epochs)."""
    settings = app[keys.SETTINGS]
    shared = SharedState(settings.redis_url, settings.redis_prefix)
    workers = PasswordWorkers()
    app[keys.SHARED_STATE] = shared
    app[keys.PASSWORD_WORKERS] = workers
    app[keys.LOGIN_THROTTLE] = LoginThrottle(shared)
    app[keys.SESSION_EPOCHS] = SessionEpochs(shared)
    try:
        yield
    finally:
        workers.close()
        await shared.close()


class AccessLogger(AbstractAccessLogger):
    """One line a request, without the query string: searches carry callers' phone numbers."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.1f ms',
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
        )


async def start_console(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    consultant_states: ConsultantStates | None = None,
    transfers: Transfers | None = None,
) -> web.AppRunner:
    """Serve the console on ``settings.console_host:console_port`` in the running loop; the caller ends it
    with ``await runner.cleanup()``."""
    app = create_app(settings, engine=engine, consultant_states=consultant_states, transfers=transfers)
    runner = ConsoleRunner(app, access_log_class=AccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, settings.console_host, settings.console_port)
    started = False
    try:
        await site.start()
        started = True
    finally:
        if not started:
            await runner.cleanup()
    log.info("agent console on http://%s:%s/", settings.console_host, settings.console_port)
    return runner


async def run_console(settings: Settings) -> None:
    """Serve the console until cancelled (``hotline console``)."""
    runner = await start_console(settings)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
