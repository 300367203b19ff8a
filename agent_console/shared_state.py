"""What every console process must agree on, kept in Redis: sign-in failures and session epochs.

Redis is not the record (the database is): when it does not answer, each process carries on with what it
holds in its own memory, logs the outage once, and tries Redis again a few seconds later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long a process leaves Redis alone after it failed to answer (so a dead Redis costs one timeout, not
# one per request).
RETRY_AFTER = 5.0
TIMEOUT = 1.0


class RedisUnavailable(Exception):
    """Redis did not answer (now, or a moment ago): use this process's own memory instead."""


class SharedState:
    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        retry_after: float = RETRY_AFTER,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = f"{prefix}:console"
        self._redis: redis.Redis = redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, decode_responses=True
        )
        self._retry_after = retry_after
        self._monotonic = monotonic
        self._retry_at = 0.0
        self._down = False

    def key(self, *parts: str | int) -> str:
        return ":".join([self.prefix, *(str(part) for part in parts)])

    @property
    def down(self) -> bool:
        return self._down

    async def run(self, what: str, operation: Callable[[redis.Redis], Awaitable[T]]) -> T:
        """``operation`` on Redis, or ``RedisUnavailable``; ``what`` names it for the log."""
        if self._down and self._monotonic() < self._retry_at:
            raise RedisUnavailable(what)
        try:
            result = await operation(self._redis)
        except (RedisError, OSError) as exc:
            self._retry_at = self._monotonic() + self._retry_after
            if not self._down:
                # The URL may carry a password: never log it.
                log.warning(
                    "Redis does not answer (%s: %s): %s from this process's memory until it does",
                    type(exc).__name__,
                    exc,
                    what,
                )
            self._down = True
            raise RedisUnavailable(what) from exc
        if self._down:
            log.warning("Redis answers again: the console's shared state is back in Redis")
            self._down = False
        return result

    async def close(self) -> None:
        await self._redis.aclose()
