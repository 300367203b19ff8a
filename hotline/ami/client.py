"""The AMI client: one panoramisk connection with reconnect and a watchdog ping, typed events in order.

Every AMI frame becomes a typed event (:mod:`hotline.ami.events`) before any service sees it; frames we do not
model, and broken frames, are dropped with a log line. Subscribers each get their own queue, fed in arrival
order by one callback, so no consumer can reorder or lose another's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from panoramisk import Manager, Message
from panoramisk.ami_protocol import AMIProtocol

from hotline.ami.actions import AmiAction, AmiResponse, Events, Ping
from hotline.ami.events import AmiEvent, parse_event
from hotline.settings import Settings

log = logging.getLogger(__name__)


class AmiError(RuntimeError):
    """An AMI action failed or AMI could not be reached."""


class _Protocol(AMIProtocol):
    """panoramisk's protocol, made to survive a frame it chokes on: log it, keep the connection."""

    def handle_message(self, message: Message) -> None:
        try:
            super().handle_message(message)
        except Exception:
            log.exception("AMI frame could not be handled and was dropped: %r", dict(message))


class _Manager(Manager):
    """panoramisk's Manager, told when a close is ours so that it does not reconnect."""

    closing = False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closing:
            self._connected = False
            return
        super().connection_lost(exc)


class AmiClient:
    """The hotline's AMI connection: reconnects forever, pings, fans typed events out to subscribers."""

    def __init__(
        self, settings: Settings, *, username: str | None = None, action_timeout: float = 10.0
    ) -> None:
        if settings.ami_host not in ("127.0.0.1", "::1", "localhost"):
            raise AmiError(f"AMI must stay on loopback, not {settings.ami_host}")
        self.settings = settings
        self.action_timeout = action_timeout
        # Which events a session receives is the user's business, in manager.conf (read classes, filters).
        self.username = username or settings.ami_username
        self._subscribers: list[asyncio.Queue[AmiEvent]] = []
        self._login_callbacks: list[Callable[[], None]] = []
        # The event classes the services on this connection asked for (want_events); empty: all of the
        # user's read classes.
        self._event_classes: set[str] = set()
        self._events_asked = asyncio.Event()
        self._logged_in = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._manager = _Manager(
            host=settings.ami_host,
            port=settings.ami_port,
            username=self.username,
            secret=settings.ami_secret,
            encoding="utf-8",
            protocol_factory=_Protocol,
            # panoramisk's own pinger never notices a dead peer; our watchdog below does.
            ping_delay=10**6,
            ping_interval=10**6,
            reconnect_timeout=1,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
            log=logging.getLogger("hotline.ami.panoramisk"),
        )
        self._manager.register_event("*", self._on_frame)

    # -- connection -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start connecting (in the background, retrying) and the watchdog."""
        self._manager.loop = asyncio.get_running_loop()
        self._manager.connect()
        task = asyncio.create_task(self._watchdog(), name="ami-watchdog")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_connected(self, timeout: float = 30.0) -> None:
        try:
            await asyncio.wait_for(self._logged_in.wait(), timeout)
        except TimeoutError as exc:
            raise AmiError(
                f"no AMI login at {self.settings.ami_host}:{self.settings.ami_port} within {timeout:.0f} s"
            ) from exc

    @property
    def connected(self) -> bool:
        return self._logged_in.is_set()

    def on_login(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each login, the first and every reconnection (events were missed
        meanwhile: a listener reconciles)."""
        self._login_callbacks.append(callback)

    def want_events(self, mask: str) -> None:
        """Receive the events of these classes (``"call,agent"``): several services on one connection each
        say what they need, and at every login the session asks for the union (AMI ``Events``). Until it is
        answered (:meth:`events_asked`) a session receives every class of its user, never fewer."""
        self._event_classes.update(c.strip() for c in mask.split(",") if c.strip())

    async def events_asked(self) -> None:
        """Return once this login's ``Events`` action was answered (or failed: logged), at once when no
        service asked for classes."""
        await self._events_asked.wait()

    def _on_login(self, _manager: Manager) -> None:
        log.info(
            "AMI logged in at %s:%s as %s", self.settings.ami_host, self.settings.ami_port, self.username
        )
        self._logged_in.set()
        self._events_asked.clear()
        if self._event_classes:
            task = asyncio.create_task(self._ask_events(), name="ami-events")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self._events_asked.set()
        for callback in self._login_callbacks:
            try:
                callback()
            except Exception:
                log.exception("an AMI login callback failed")

    async def _ask_events(self) -> None:
        try:
            await self.send(Events(mask=",".join(sorted(self._event_classes))))
        except AmiError as exc:
            log.warning("AMI events not narrowed to %s (%s)", ",".join(sorted(self._event_classes)), exc)
        finally:
            self._events_asked.set()

    def _on_disconnect(self, _manager: Manager, exc: Exception | None) -> None:
        if self._logged_in.is_set():
            log.warning("AMI connection lost (%s); reconnecting", exc)
        self._logged_in.clear()

    async def _watchdog(self) -> None:
        """Ping every interval; a peer that stops answering gets its connection dropped, which reconnects."""
        interval = self.settings.ami_ping_interval
        while True:
            await asyncio.sleep(interval)
            if not self._logged_in.is_set():
                continue
            try:
                await self.send(Ping(), timeout=interval)
            except (AmiError, TimeoutError):
                log.warning("AMI ping unanswered; dropping the connection to reconnect")
                protocol = self._manager.protocol
                transport = protocol.transport if protocol is not None else None
                if transport is not None:
                    transport.close()

    async def close(self) -> None:
        self._manager.closing = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._manager.close()
        self._logged_in.clear()

    # -- actions --------------------------------------------------------------------------------------------
    async def send(self, action: AmiAction, *, timeout: float | None = None) -> AmiResponse:
        """Send one action and return Asterisk's answer. Raises AmiError on an error answer or a timeout."""
        if not self._logged_in.is_set():
            raise AmiError("AMI is not connected")
        future = self._manager.send_action(action.headers(), as_list=action.as_list)
        try:
            frames = await asyncio.wait_for(future, timeout or self.action_timeout)
        except TimeoutError as exc:
            raise AmiError(f"AMI action {action.action} timed out") from exc
        response = AmiResponse.from_frames(frames)
        if response.response.lower() == "error":
            raise AmiError(f"AMI action {action.action} failed: {response.message}")
        return response

    # -- events ---------------------------------------------------------------------------------------------
    def subscribe(self, maxsize: int = 10000) -> asyncio.Queue[AmiEvent]:
        queue: asyncio.Queue[AmiEvent] = asyncio.Queue(maxsize)
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[AmiEvent]) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(queue)

    def _on_frame(self, _manager: Manager, frame: Message) -> None:
        try:
            event = parse_event(frame)
        except Exception:
            log.exception("broken AMI frame dropped: %r", dict(frame))
            return
        if event is None:
            return
        for queue in self._subscribers:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.error(
                    "an AMI subscriber is %d events behind; event %s dropped for it",
                    queue.qsize(),
                    event.name,
                )


async def send_once(
    settings: Settings,
    action: AmiAction,
    *,
    username: str | None = None,
    connect_timeout: float = 5.0,
    action_timeout: float = 10.0,
) -> AmiResponse:
    """Log in (as ``username``: the configuration user for a reload or a log rotation), send one action, log
    out: for commands, which need no connection of their own. Raises :class:`AmiError` when Asterisk cannot
    be reached in ``connect_timeout`` seconds, or refuses the action or does not answer it in time."""
    ami = AmiClient(settings, username=username, action_timeout=action_timeout)
    await ami.start()
    try:
        await ami.wait_connected(timeout=connect_timeout)
        return await ami.send(action)
    finally:
        await ami.close()
