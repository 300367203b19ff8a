"""Passwords (argon2) and the signed session cookie that carries who is signed in and the CSRF token.

The cookie is ``base64url(json payload).base64url(HMAC-SHA256)``, keyed by a key derived from
``settings.console_session_key``. It holds no secret: the user id, a fingerprint of the user's password hash
(so a password change ends every session of that user), the account's session epoch at sign-in (so sign-out
ends them too, see ``session_epochs``), the CSRF token, the time of sign-in and of the last request (a session
ends when idle). It is ``HttpOnly``, ``SameSite=Lax`` and, behind HTTPS, ``Secure``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

COOKIE_NAME = "zl_session"
# A consultant's shift; after that the console asks for the password again.
SESSION_MAX_AGE = 12 * 3600
MIN_SECRET_LENGTH = 16

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong username costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@dataclass(frozen=True)
class PasswordCheck:
    ok: bool
    # A new hash when the stored one was made with weaker parameters than today's.
    new_hash: str | None = None


def check_password(stored_hash: str | None, password: str) -> PasswordCheck:
    """Verify in constant-ish time; ``stored_hash=None`` (no such user) still spends one verification."""
    try:
        _hasher.verify(stored_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return PasswordCheck(ok=False)
    if stored_hash is None:
        return PasswordCheck(ok=False)
    new_hash = _hasher.hash(password) if _hasher.check_needs_rehash(stored_hash) else None
    return PasswordCheck(ok=True, new_hash=new_hash)


# argon2 takes tens of milliseconds of CPU and 64 MiB for each check: a few threads of its own, so that
# sign-ins sent in parallel queue here instead of taking the cores (and memory) of the process that also
# serves calls.
PASSWORD_THREADS = 2


class PasswordWorkers:
    """Password checks off the event loop, on a small pool of their own."""

    def __init__(self, threads: int = PASSWORD_THREADS) -> None:
        self.threads = threads
        # Checks handed to the pool and not finished yet (running or queued).
        self.waiting = 0
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="console-password")

    async def check(self, stored_hash: str | None, password: str) -> PasswordCheck:
        self.waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, check_password, stored_hash, password
            )
        finally:
            self.waiting -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def derive_key(secret: str, purpose: bytes) -> bytes:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"console_session_key must have at least {MIN_SECRET_LENGTH} characters (see ensure_secrets)"
        )
    return hmac.new(secret.encode(), b"19524 agent console: " + purpose, hashlib.sha256).digest()


def password_fingerprint(key: bytes, password_hash: str) -> str:
    return hmac.new(key, password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class SessionData:
    csrf: str
    issued_at: int
    user_id: int | None = None
    password_fp: str | None = None
    # The account's session epoch at sign-in, and the time of the session's last request.
    epoch: int = 0
    active_at: int = 0

    @classmethod
    def anonymous(cls, now: float | None = None) -> SessionData:
        moment = int(time.time() if now is None else now)
        return cls(csrf=new_csrf_token(), issued_at=moment, active_at=moment)

    def signed_in(self, user_id: int, password_fp: str, epoch: int, now: float | None = None) -> SessionData:
        # A fresh CSRF token at every sign-in: nothing from before the sign-in stays valid.
        moment = int(time.time() if now is None else now)
        return replace(
            self,
            csrf=new_csrf_token(),
            user_id=user_id,
            password_fp=password_fp,
            epoch=epoch,
            issued_at=moment,
            active_at=moment,
        )

    def touched(self, now: float) -> SessionData:
        return replace(self, active_at=int(now))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Signs and verifies session cookies; anything tampered, malformed or too old reads as no session."""

    def __init__(self, key: bytes, max_age: int = SESSION_MAX_AGE) -> None:
        self._key = key
        self.max_age = max_age

    def _mac(self, payload: str) -> str:
        return _b64encode(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def encode(self, session: SessionData) -> str:
        body: dict[str, Any] = {"c": session.csrf, "t": session.issued_at}
        if session.user_id is not None:
            body["u"] = session.user_id
            body["p"] = session.password_fp
            body["e"] = session.epoch
            body["a"] = session.active_at
        payload = _b64encode(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload)}"

    def decode(self, cookie: str | None, now: float | None = None) -> SessionData | None:
        if not cookie or len(cookie) > 1024 or cookie.count(".") != 1:
            return None
        payload, mac = cookie.split(".")
        try:
            if not hmac.compare_digest(mac.encode("ascii"), self._mac(payload).encode("ascii")):
                return None
            body = json.loads(_b64decode(payload))
        except (UnicodeError, ValueError, binascii.Error):
            return None
        if not isinstance(body, dict):
            return None
        csrf, issued_at, user_id, fingerprint = body.get("c"), body.get("t"), body.get("u"), body.get("p")
        if not isinstance(csrf, str) or not isinstance(issued_at, int):
            return None
        current = time.time() if now is None else now
        if not (current - self.max_age <= issued_at <= current + 60):
            return None
        if user_id is None:
            return SessionData(csrf=csrf, issued_at=issued_at, active_at=issued_at)
        epoch, active_at = body.get("e"), body.get("a")
        if not (
            isinstance(user_id, int)
            and isinstance(fingerprint, str)
            and isinstance(epoch, int)
            and isinstance(active_at, int)
            and issued_at <= active_at <= current + 60
        ):
            return None
        return SessionData(
            csrf=csrf,
            issued_at=issued_at,
            user_id=user_id,
            password_fp=fingerprint,
            epoch=epoch,
            active_at=active_at,
        )
