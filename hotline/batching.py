"""One writer task per store: changes queue up while a write is running and go out together.

Under load a hotline sees hundreds of small changes a second (a call entered, answered, queued, ended).
Written one by one, each pays a whole transaction or round trip; written by one task in batches, the cost is
shared and the order of arrival is kept. Idle, a change goes out at once: a batch is simply whatever arrived
meanwhile.

A failed batch is retried item by item, so one bad change never takes the good ones with it: an item whose
error is transient (the store is down) waits and is retried, in order, with a growing pause; any other error
drops that item with a log line naming it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


class BatchWriter(Generic[T]):
    def __init__(
        self,
        name: str,
        write: Callable[[Sequence[T]], Awaitable[None]],
        *,
        transient: Callable[[BaseException], bool] = lambda exc: False,
        describe: Callable[[T], str] = repr,
        max_batch: int = 500,
        max_pending: int = 200_000,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.name = name
        self._write = write
        self._transient = transient
        self._describe = describe
        self.max_batch = max_batch
        self.max_pending = max_pending
        self._retry_delays = tuple(retry_delays)
        self._pending: deque[T] = deque()
        self._wake = asyncio.Event()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []  # (items settled, who waits for it)
        self._put = 0  # items ever put
        self._settled = 0  # items written or dropped
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"batch-writer-{self.name}")

    def put(self, item: T) -> None:
        """Queue a change; never blocks. Past ``max_pending`` (the store has been down for long), the oldest
        change is dropped with a log line: memory must not grow without bound."""
        if len(self._pending) >= self.max_pending:
            lost = self._pending.popleft()
            self._drop()
            log.error("%s: %d changes waiting, dropped the oldest: %s", self.name, self.max_pending, lost)
        self._pending.append(item)
        self._put += 1
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def drain(self) -> None:
        """Wait until every change put so far is written (or dropped)."""
        if self._settled >= self._put:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._put, waiter))
        await waiter

    async def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (for at most ``timeout`` seconds), then stop."""
        if self._task is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await self.drain()
        except TimeoutError:
            log.error("%s: stopping with %d changes not written", self.name, len(self._pending))
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def _run(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
            batch = [self._pending.popleft() for _ in range(min(len(self._pending), self.max_batch))]
            try:
                await self._write(batch)
            except Exception as exc:
                if len(batch) == 1:
                    await self._retry(batch[0], exc)
                    continue
                log.warning(
                    "%s: a batch of %d failed (%s), writing it item by item", self.name, len(batch), exc
                )
                for item in batch:
                    try:
                        await self._write([item])
                    except Exception as item_exc:
                        await self._retry(item, item_exc)
                    else:
                        self._settle(1)
            else:
                self._settle(len(batch))

    async def _retry(self, item: T, error: Exception) -> None:
        """``item`` failed alone with ``error``: drop it if the store refused it; if the store is unavailable,
        wait and write it again, with a growing pause, until it is written or refused."""
        attempt = 0
        while self._transient(error):
            delay = self._retry_delays[min(attempt, len(self._retry_delays) - 1)]
            if attempt % 20 == 0:  # the first time, then about every 100 s: an outage must stay visible
                waiting = self._put - self._settled
                log.warning(
                    "%s: store unavailable (%s), %d changes waiting, retrying in %.1f s",
                    self.name,
                    error,
                    waiting,
                    delay,
                )
            attempt += 1
            await asyncio.sleep(delay)
            try:
                await self._write([item])
            except Exception as exc:
                error = exc
            else:
                log.info("%s: store available again", self.name)
                self._settle(1)
                return
        log.error("%s: dropped %s: %s", self.name, self._describe(item), error, exc_info=error)
        self._drop()

    def _drop(self) -> None:
        self.dropped += 1
        self._settle(1)

    def _settle(self, count: int) -> None:
        self._settled += count
        if not self._waiters:
            return
        waiting = []
        for target, waiter in self._waiters:
            if self._settled >= target:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                waiting.append((target, waiter))
        self._waiters = waiting
