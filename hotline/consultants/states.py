"""Consultants' states in the queues: logged in or out, available or paused (with a reason), and Asterisk's
queue members kept true to them.

The database is the source of truth. Every change is written there first (with a row in
``consultant_state_changes``: when, what, why, from where), then applied to Asterisk over AMI:
``QueueAdd`` into every queue the consultant's skills reach, with the penalty they give
(:meth:`Queues.memberships`) and the phone as ``StateInterface`` (a consultant on another call is not
offered a second), ``QueuePause`` with the reason, ``QueueRemove``. When Asterisk cannot be reached, the
change stays in the database, and :meth:`ConsultantStates.restore` (run at every AMI login, so also after
Asterisk restarted) rebuilds the members from it: every logged-in consultant back in their queues, paused
as they were.

A consultant who lets a call ring out is paused by Asterisk itself in all their queues (``autopause = all``,
``queues.conf``); :meth:`ConsultantStates.rang_out`, on Asterisk's ``AgentRingNoAnswer``, records it with the
reason ``no_answer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import select

from hotline.ami import AgentRingNoAnswer, AmiClient, AmiError, AmiEvent, AmiService
from hotline.ami.actions import QueueAdd, QueuePause, QueuePenalty, QueueRemove, QueueStatus
from hotline.consultants.directory import ConsultantError, ConsultantInfo, Consultants
from hotline.db import Consultant, ConsultantStateChange
from hotline.queues import NO_ANSWER

log = logging.getLogger(__name__)

# Where a change came from (consultant_state_changes.source).
SOURCES = frozenset({"phone", "console", "cli", "hotline"})
INTERFACE = re.compile(r"^PJSIP/(c[0-9]{4,9})$")


class ConsultantStates:
    """Changes consultants' states (database, then Asterisk) and follows Asterisk's "no answer" pauses.

    ``ami`` is a connection of the services' AMI user, this object's own or shared with the other services
    (``owns_connection=False``: whoever made it starts and closes it): it needs the "agent" events and
    restores the queue members at every login."""

    def __init__(
        self, consultants: Consultants, ami: AmiClient | None = None, *, owns_connection: bool = True
    ) -> None:
        self.consultants = consultants
        self.queues = consultants.queues
        self.ami = ami
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._restore_lock = asyncio.Lock()
        # Set after each completed restore, cleared at each AMI login (tests and the console wait for it).
        self.restored = asyncio.Event()
        self._service = (
            AmiService(
                ami,
                "consultant",
                self._on_event,
                events="agent",
                after_login=self._after_login,
                login_resets=self.restored,
                owns_connection=owns_connection,
            )
            if ami is not None
            else None
        )

    # -- running --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._service is not None:
            await self._service.start()

    async def close(self) -> None:
        if self._service is not None:
            await self._service.close()

    async def _after_login(self) -> None:
        try:
            await self.restore()
        except AmiError as exc:
            log.warning("consultants' queue members not restored (%s); again at the next login", exc)

    async def _on_event(self, event: AmiEvent) -> None:
        if isinstance(event, AgentRingNoAnswer):
            await self.rang_out(event.interface)

    # -- changes --------------------------------------------------------------------------------------------
    async def log_in(self, consultant: ConsultantInfo, *, source: str) -> ConsultantInfo:
        """Into every queue the consultant's skills reach, available."""

        def change(row: Consultant) -> None:
            row.logged_in, row.paused, row.pause_reason = True, False, None

        info = await self._change(consultant, change, "login", None, source)
        await self._apply(info)
        return info

    async def log_out(self, consultant: ConsultantInfo, *, source: str) -> ConsultantInfo:
        def change(row: Consultant) -> None:
            row.logged_in, row.paused, row.pause_reason = False, False, None

        info = await self._change(consultant, change, "logout", None, source)
        await self._apply(info)
        return info

    async def pause(self, consultant: ConsultantInfo, reason: str, *, source: str) -> ConsultantInfo:
        """Pause with one of the configured reasons (no_answer is the hotline's own)."""
        if reason not in self.queues.pause_reasons or (reason == NO_ANSWER and source != "hotline"):
            raise ConsultantError(f"unknown pause reason {reason!r}")
        if not consultant.logged_in:
            raise ConsultantError("log in first: a consultant who is logged out cannot pause")

        def change(row: Consultant) -> None:
            row.paused, row.pause_reason = True, reason

        info = await self._change(consultant, change, "pause", reason, source)
        await self._apply_pause(info)
        return info

    async def available(self, consultant: ConsultantInfo, *, source: str) -> ConsultantInfo:
        """Back to taking calls after a pause (logging in if logged out)."""
        if not consultant.logged_in:
            return await self.log_in(consultant, source=source)

        def change(row: Consultant) -> None:
            row.paused, row.pause_reason = False, None

        info = await self._change(consultant, change, "available", None, source)
        await self._apply_pause(info)
        return info

    async def rang_out(self, interface: str) -> ConsultantInfo | None:
        """Asterisk paused ``interface`` after it let a call ring out: record the reason no_answer."""
        match = INTERFACE.fullmatch(interface)
        consultant = await self.consultants.by_sip_username(match.group(1)) if match else None
        if consultant is None or not consultant.logged_in:
            return None
        if consultant.paused and consultant.pause_reason == NO_ANSWER:
            return consultant
        log.info("consultant %s let a call ring out: paused (no answer)", consultant.username)
        return await self.pause(consultant, NO_ANSWER, source="hotline")

    async def _change(
        self,
        consultant: ConsultantInfo,
        change: Callable[[Consultant], None],
        state: str,
        reason: str | None,
        source: str,
    ) -> ConsultantInfo:
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        now = self.consultants.now()
        async with self._locks[consultant.id], self.consultants.sessions() as session, session.begin():
            row = await session.scalar(select(Consultant).where(Consultant.id == consultant.id))
            if row is None or not row.enabled:
                raise ConsultantError(f"{consultant.username!r} is no enabled consultant")
            change(row)
            row.state_changed_at = now
            session.add(
                ConsultantStateChange(consultant_id=row.id, at=now, state=state, reason=reason, source=source)
            )
        info = await self.consultants.get(consultant.username)
        assert info is not None
        log.info("consultant %s: %s (%s, from %s)", info.username, info.state, reason or "-", source)
        return info

    # -- Asterisk -------------------------------------------------------------------------------------------
    def _connected(self) -> AmiClient | None:
        if self.ami is None or not self.ami.connected:
            log.warning("AMI is not connected: Asterisk's queues will follow at the next login")
            return None
        return self.ami

    async def _apply(self, info: ConsultantInfo) -> None:
        """Make Asterisk's members of ``info`` what the database says (log in or out, penalties, pause)."""
        ami = self._connected()
        if ami is None:
            return
        try:
            if not info.logged_in:
                for queue in self.queues.asterisk_queues():
                    with contextlib.suppress(AmiError):  # not a member there: nothing to remove
                        await ami.send(QueueRemove(queue=queue.name, interface=info.interface))
                return
            for name, penalty in self.queues.memberships(info.skills).items():
                await self._add(ami, info, name, penalty)
            await self._apply_pause(info)
        except AmiError as exc:
            log.warning(
                "Asterisk's queues not changed for %s (%s); again at the next login", info.username, exc
            )

    async def _add(self, ami: AmiClient, info: ConsultantInfo, queue: str, penalty: int) -> None:
        action = QueueAdd(
            queue=queue,
            interface=info.interface,
            member_name=info.username,
            penalty=penalty,
            paused=info.paused,
            reason=info.pause_reason,
            state_interface=info.interface,
        )
        try:
            await ami.send(action)
        except AmiError:
            # A member already (Asterisk kept it): make its penalty right.
            await ami.send(QueuePenalty(interface=info.interface, penalty=penalty, queue=queue))

    async def _apply_pause(self, info: ConsultantInfo) -> None:
        ami = self._connected()
        if ami is None or not info.logged_in:
            return
        try:
            await ami.send(QueuePause(interface=info.interface, paused=info.paused, reason=info.pause_reason))
        except AmiError as exc:
            log.warning("pause of %s not applied in Asterisk (%s)", info.username, exc)

    async def restore(self) -> None:
        """Rebuild Asterisk's queue members from the database: add who is missing, remove who should not be
        there, right the penalties and the pauses."""
        ami = self._connected()
        if ami is None:
            return
        async with self._restore_lock:
            members = await self._members(ami)
            consultants = await self.consultants.all()
            wanted = {c.interface: c for c in consultants if c.enabled and c.logged_in}
            for interface, queues in members.items():
                for queue in queues:
                    keep = wanted.get(interface)
                    if keep is None or queue not in self.queues.memberships(keep.skills):
                        with contextlib.suppress(AmiError):
                            await ami.send(QueueRemove(queue=queue, interface=interface))
            for info in wanted.values():
                present = members.get(info.interface, {})
                for queue, penalty in self.queues.memberships(info.skills).items():
                    if queue not in present:
                        await self._add(ami, info, queue, penalty)
                    elif present[queue][0] != penalty:
                        await ami.send(QueuePenalty(interface=info.interface, penalty=penalty, queue=queue))
                await self._apply_pause(info)
            log.info("consultants' queue members restored: %d logged in", len(wanted))
        self.restored.set()

    async def _members(self, ami: AmiClient) -> dict[str, dict[str, tuple[int, bool]]]:
        """Asterisk's members of our queues: interface → queue → (penalty, paused)."""
        response = await ami.send(QueueStatus(), timeout=30)
        members: dict[str, dict[str, tuple[int, bool]]] = defaultdict(dict)
        for event in response.events:
            if event.get("Event") != "QueueMember":
                continue
            queue = event.get("Queue", "")
            interface = event.get("Interface") or event.get("Location", "")
            if self.queues.parse_asterisk_name(queue) is None or not INTERFACE.fullmatch(interface):
                continue
            try:
                penalty = int(event.get("Penalty", "0"))
            except ValueError:
                penalty = -1
            members[interface][queue] = (penalty, event.get("Paused") == "1")
        return members
