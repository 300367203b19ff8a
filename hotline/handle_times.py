"""Recent handle times of each consultants' queue (talk plus wrap-up): the wait estimate's history.

A rolling window per queue in Redis (list ``<prefix>:handle_times:<queue>``, newest first, at most
``window`` calls), so a restart of the service does not forget them. Each process also keeps the window in
memory: while Redis does not answer, the estimate goes on from memory, and the outage is logged once.
"""

from __future__ import annotations

import logging
import math
from collections import deque

import redis.asyncio as redis
from redis.exceptions import RedisError

from hotline.settings import masked_url

log = logging.getLogger(__name__)

WINDOW = 50
# A handle time beyond this is a stuck or mismeasured call, not history to estimate from.
LONGEST_S = 4 * 3600.0


class HandleTimes:
    def __init__(self, url: str, *, prefix: str = "hotline", window: int = WINDOW) -> None:
        self.url = url
        self.prefix = prefix
        self.window = window
        self._redis: redis.Redis = redis.from_url(url, decode_responses=True, socket_timeout=2)
        self._memory: dict[str, deque[float]] = {}
        self._healthy = True

    def key(self, queue: str) -> str:
        return f"{self.prefix}:handle_times:{queue}"

    async def add(self, queue: str, seconds: float) -> None:
        """One call of ``queue`` ended after ``seconds`` of talk and wrap-up."""
        if not queue or not math.isfinite(seconds) or not 0 <= seconds <= LONGEST_S:
            log.warning("handle time %r of queue %r ignored", seconds, queue)
            return
        self._memory.setdefault(queue, deque(maxlen=self.window)).appendleft(seconds)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.lpush(self.key(queue), f"{seconds:.1f}")
                pipe.ltrim(self.key(queue), 0, self.window - 1)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._failed(exc)
        else:
            self._recovered()

    async def recent(self, queue: str) -> tuple[float, ...]:
        """The queue's window, newest first: from Redis (what every process and a restart see), else from
        this process's memory."""
        try:
            raw = await self._redis.lrange(self.key(queue), 0, self.window - 1)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return tuple(self._memory.get(queue, ()))
        self._recovered()
        times = []
        for item in raw:
            try:
                value = float(item)
            except (TypeError, ValueError):
                continue
            if math.isfinite(value) and 0 <= value <= LONGEST_S:
                times.append(value)
        return tuple(times)

    async def clear(self, *queues: str) -> None:
        if queues:
            await self._redis.delete(*(self.key(queue) for queue in queues))
        self._memory.clear()

    async def close(self) -> None:
        await self._redis.aclose()

    def _failed(self, exc: Exception) -> None:
        if self._healthy:
            log.warning(
                "handle times: Redis at %s failed (%s); estimating from this process's memory",
                masked_url(self.url),
                exc,
            )
        self._healthy = False

    def _recovered(self) -> None:
        if not self._healthy:
            log.info("handle times: Redis answers again")
        self._healthy = True
