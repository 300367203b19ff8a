"""Typed keys of what the application and each request carry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agent_console.formatting import Formatter
from agent_console.forwarded import TrustedProxies
from agent_console.security import PasswordWorkers, SessionCodec, SessionData
from agent_console.session_epochs import SessionEpochs
from agent_console.shared_state import SharedState
from agent_console.texts import Texts
from agent_console.throttle import LoginThrottle
from hotline.clock import Clock
from hotline.consultants import ConsultantStates
from hotline.settings import Settings
from hotline.transfers import CaseCards, Transfers


class Role(StrEnum):
    CONSULTANT = "consultant"
    SUPERVISOR = "supervisor"


# Who may use a route: a set of roles, or None for a public route.
Access = frozenset[Role] | None

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
TEXTS = web.AppKey("texts", Texts)
FORMATTER = web.AppKey("formatter", Formatter)
SESSION_CODEC = web.AppKey("session_codec", SessionCodec)
FINGERPRINT_KEY = web.AppKey("fingerprint_key", bytes)
ROUTE_ACCESS: web.AppKey[Mapping[web.AbstractRoute, Access]] = web.AppKey("route_access")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)
# Opened on startup, closed on cleanup (``app.cleanup_ctx``).
PASSWORD_WORKERS = web.AppKey("password_workers", PasswordWorkers)
SHARED_STATE = web.AppKey("shared_state", SharedState)
LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
SESSION_EPOCHS = web.AppKey("session_epochs", SessionEpochs)
# The consultants' states (the desk panel); shared with the hotline when it runs in the same process.
CONSULTANT_STATES = web.AppKey("consultant_states", ConsultantStates)
# Transfers from the desk, and the case cards the call page shows.
TRANSFERS = web.AppKey("transfers", Transfers)
CASE_CARDS = web.AppKey("case_cards", CaseCards)


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """The signed-in consultant or supervisor, as read from the database on this request."""

    id: int
    username: str
    display_name: str
    role: Role

    @property
    def is_supervisor(self) -> bool:
        return self.role is Role.SUPERVISOR


USER = web.RequestKey("user", CurrentUser)
SESSION = web.RequestKey("session", SessionData)
# Set when the handler changed the session (sign-in, sign-out, a new CSRF token): the cookie is rewritten.
NEW_SESSION = web.RequestKey("new_session", SessionData)
