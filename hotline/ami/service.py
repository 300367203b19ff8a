"""The life of one service on an AMI connection, written once: its event queue, what it does at every login,
the tasks it starts, and an orderly close.

A service (consultants' states, the call-back dialer, the waiting announcer) gives :class:`AmiService` its
``handle`` for each event and, optionally, the event classes it needs (``events``: the connection asks for
the union of its services' classes at every login, :meth:`AmiClient.want_events`) and an ``after_login``
coroutine (restore, adopt: run at every login, the first and each reconnection, since
events were missed meanwhile). Every task is started with :meth:`AmiService.spawn`, which keeps a reference
until it ends; :meth:`AmiService.close` cancels and awaits them all.

Several services share one connection (``owns_connection=False``: whoever made it starts and closes it);
each has its own queue of events, and handles only the events it knows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from hotline.ami.client import AmiClient
from hotline.ami.events import AmiEvent

log = logging.getLogger(__name__)

T = TypeVar("T")


class AmiService:
    """One service's bookkeeping on an AMI connection.

    - :meth:`start`: subscribes to the connection's events, registers the login hook, starts the event loop
      (task ``{name}-events``) and, when the service owns the connection, starts it.
    - At every login: ``login_resets`` is cleared at once (before anything waits on it; the service sets it
      when its after-login work is done), then a task ``{name}-login`` waits until the connection's event
      classes are asked for (when ``events`` is given) and runs ``after_login``. A failure there is logged;
      the next login tries again.
    - Each event goes to ``handle``, in arrival order; an exception handling one is logged and the loop goes
      on with the next.
    - :meth:`close`: unsubscribes, cancels and awaits every task, and closes the connection if it owns it.
    """

    def __init__(
        self,
        ami: AmiClient,
        name: str,
        handle: Callable[[AmiEvent], Awaitable[None]],
        *,
        events: str | None = None,
        after_login: Callable[[], Awaitable[None]] | None = None,
        login_resets: asyncio.Event | None = None,
        owns_connection: bool = True,
        queue_size: int = 10000,
    ) -> None:
        self.ami = ami
        self.name = name
        self.handle = handle
        self.events = events
        self.after_login = after_login
        self.login_resets = login_resets
        self.owns_connection = owns_connection
        self.queue_size = queue_size  # events waiting for ``handle`` before new ones are dropped (logged)
        self._queue: asyncio.Queue[AmiEvent] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    async def start(self) -> None:
        if self.events is not None:
            self.ami.want_events(self.events)
        self._queue = self.ami.subscribe(self.queue_size)
        self.ami.on_login(self._on_login)
        self.spawn(self._follow(self._queue), f"{self.name}-events")
        if self.owns_connection:
            await self.ami.start()

    def spawn(self, coroutine: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """Start a task of this service, kept (referenced) until it ends and cancelled by :meth:`close`."""
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        self._closed = True
        if self._queue is not None:
            self.ami.unsubscribe(self._queue)
            self._queue = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                log.warning("%s: a task ended with %r while closing", self.name, result)
        if self.owns_connection:
            await self.ami.close()

    def _on_login(self) -> None:
        if self._closed:
            return
        if self.login_resets is not None:
            self.login_resets.clear()
        if self.after_login is not None:
            self.spawn(self._after_login(self.after_login), f"{self.name}-login")

    async def _after_login(self, work: Callable[[], Awaitable[None]]) -> None:
        if self.events is not None:
            await self.ami.events_asked()
        try:
            await work()
        except Exception:
            log.exception("%s: the work after the AMI login failed; again at the next login", self.name)

    async def _follow(self, queue: asyncio.Queue[AmiEvent]) -> None:
        while True:
            event = await queue.get()
            try:
                await self.handle(event)
            except Exception:
                log.exception("%s: AMI event %s not applied", self.name, event.name)
