"""The consultants' directory: adding, listing, disabling; skills; the phone's credentials.

A consultant is a console user (role consultant or supervisor) with a phone: a PJSIP endpoint named
``c<1000 + id>`` that their desk phone or softphone registers to with a generated password, shown once and
stored only as its digest.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from hotline.clock import Clock, utc_now
from hotline.db import ConsoleUser, Consultant, ConsultantSkill, ConsultantStateChange
from hotline.queues import Queues, QueuesError, Skill

# Where a consultant works: the national contact centre in Białystok, a labour office's consultation point
# (with the office's code), or ECAM of the Voluntary Labour Corps (OHP).
SITES = ("centre", "office", "ecam")
# The realm of the phones' digest authentication (pjsip.conf's [hotline-phone-auth]).
REALM = "19524"
SIP_USERNAME = re.compile(r"^c[0-9]{4,9}$")
DIGEST = re.compile(r"^[0-9a-f]{32}$")
OFFICE_CODE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


class ConsultantError(Exception):
    """A consultant cannot be added or changed as asked (the message says why, for the command line)."""


@dataclass(frozen=True)
class ConsultantInfo:
    id: int
    username: str
    display_name: str
    sip_username: str
    site: str
    office_code: str | None
    enabled: bool
    logged_in: bool
    paused: bool
    pause_reason: str | None
    skills: tuple[Skill, ...]

    @property
    def interface(self) -> str:
        """The consultant's queue member interface: their phone's endpoint."""
        return f"PJSIP/{self.sip_username}"

    @property
    def state(self) -> str:
        if not self.logged_in:
            return "logged_out"
        return f"paused:{self.pause_reason}" if self.paused else "available"

    @classmethod
    def of(cls, row: Consultant) -> ConsultantInfo:
        return cls(
            id=row.id,
            username=row.user.username,
            display_name=row.user.display_name,
            sip_username=row.sip_username,
            site=row.site,
            office_code=row.office_code,
            enabled=row.enabled,
            logged_in=row.logged_in,
            paused=row.paused,
            pause_reason=row.pause_reason,
            skills=tuple(Skill(s.topic, s.language, s.level) for s in row.skills),
        )


def sip_digest(sip_username: str, password: str) -> str:
    """The digest a phone's password gives (MD5 of ``user:realm:password``, what SIP digest auth needs)."""
    return hashlib.md5(f"{sip_username}:{REALM}:{password}".encode(), usedforsecurity=False).hexdigest()


def new_password() -> str:
    """A phone password: 16 letters and digits (typed once into a phone's settings)."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def parse_skill(text: str) -> Skill:
    """``topic:language[:level]`` (level 1–3, default 2), as the command line takes it."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise ConsultantError(f"skill {text!r}: expected topic:language[:level], e.g. jobs:uk:3")
    try:
        level = int(parts[2]) if len(parts) == 3 else 2
    except ValueError as exc:
        raise ConsultantError(f"skill {text!r}: the level must be 1, 2 or 3") from exc
    return Skill(parts[0], parts[1], level)


class Consultants:
    """The directory, over the database; ``queues`` checks the skills' topics and languages."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], queues: Queues, *, now: Clock = utc_now
    ) -> None:
        self.sessions = sessions
        self.queues = queues
        self.now = now

    def _check_skills(self, skills: Iterable[Skill]) -> list[Skill]:
        checked = []
        seen = set()
        for skill in skills:
            try:
                self.queues.check_skill(skill)
            except QueuesError as exc:
                raise ConsultantError(str(exc)) from exc
            if (skill.topic, skill.language) in seen:
                raise ConsultantError(f"skill {skill.topic}:{skill.language} given twice")
            seen.add((skill.topic, skill.language))
            checked.append(skill)
        return checked

    async def add(
        self, username: str, *, site: str, skills: Sequence[Skill], office_code: str | None = None
    ) -> tuple[ConsultantInfo, str]:
        """Make the console user ``username`` a consultant; returns them and their phone's password (shown
        once: only its digest is kept)."""
        if site not in SITES:
            raise ConsultantError(f"site {site!r} is not one of {', '.join(SITES)}")
        if site == "office" and (office_code is None or not OFFICE_CODE.fullmatch(office_code)):
            raise ConsultantError("a consultant at a labour office needs the office's code (--office CODE)")
        if site != "office":
            office_code = None
        checked = self._check_skills(skills)
        if not checked:
            raise ConsultantError("a consultant needs at least one skill (topic:language[:level])")
        async with self.sessions() as session, session.begin():
            user = await session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
            if user is None:
                raise ConsultantError(f"no console user {username!r}: add one first (hotline user add)")
            if await session.scalar(select(Consultant.id).where(Consultant.console_user_id == user.id)):
                raise ConsultantError(f"{username!r} is a consultant already")
            row = Consultant(
                console_user_id=user.id,
                sip_username=f"new-{secrets.token_hex(8)}",
                sip_digest="",
                site=site,
                office_code=office_code,
                enabled=True,
                logged_in=False,
                paused=False,
                state_changed_at=self.now(),
                created_at=self.now(),
                skills=[ConsultantSkill(topic=s.topic, language=s.language, level=s.level) for s in checked],
            )
            session.add(row)
            await session.flush()
            row.sip_username = f"c{1000 + row.id}"
            password = new_password()
            row.sip_digest = sip_digest(row.sip_username, password)
        info = await self.get(username)
        assert info is not None
        return info, password

    async def new_password(self, username: str) -> str:
        """A new phone password for ``username`` (the old one stops working at the next reload)."""
        async with self.sessions() as session, session.begin():
            row = await self._row(session, username)
            password = new_password()
            row.sip_digest = sip_digest(row.sip_username, password)
        return password

    async def set_skills(self, username: str, skills: Sequence[Skill]) -> ConsultantInfo:
        checked = self._check_skills(skills)
        if not checked:
            raise ConsultantError("a consultant needs at least one skill")
        async with self.sessions() as session, session.begin():
            row = await self._row(session, username)
            row.skills.clear()
            await session.flush()
            row.skills.extend(
                ConsultantSkill(topic=s.topic, language=s.language, level=s.level) for s in checked
            )
        info = await self.get(username)
        assert info is not None
        return info

    async def set_enabled(self, username: str, enabled: bool) -> ConsultantInfo:
        """Disable (logged out of every queue, phone removed at the next reload) or enable a consultant."""
        async with self.sessions() as session, session.begin():
            row = await self._row(session, username)
            if row.enabled != enabled:
                row.enabled = enabled
                if not enabled and row.logged_in:
                    row.logged_in = row.paused = False
                    row.pause_reason = None
                    row.state_changed_at = self.now()
                    session.add(
                        ConsultantStateChange(
                            consultant_id=row.id,
                            at=self.now(),
                            state="logout",
                            reason="disabled",
                            source="cli",
                        )
                    )
        info = await self.get(username)
        assert info is not None
        return info

    async def _row(self, session: AsyncSession, username: str) -> Consultant:
        row = await session.scalar(
            select(Consultant)
            .join(Consultant.user)
            .where(ConsoleUser.username == username)
            .options(selectinload(Consultant.skills))
        )
        if row is None:
            raise ConsultantError(f"{username!r} is no consultant")
        return row

    async def get(self, username: str) -> ConsultantInfo | None:
        async with self.sessions() as session:
            row = await session.scalar(
                select(Consultant).join(Consultant.user).where(ConsoleUser.username == username)
            )
            return ConsultantInfo.of(row) if row is not None else None

    async def by_sip_username(self, sip_username: str) -> ConsultantInfo | None:
        if not SIP_USERNAME.fullmatch(sip_username):
            return None
        async with self.sessions() as session:
            row = await session.scalar(select(Consultant).where(Consultant.sip_username == sip_username))
            return ConsultantInfo.of(row) if row is not None else None

    async def all(self, *, enabled_only: bool = False) -> list[ConsultantInfo]:
        async with self.sessions() as session:
            query = select(Consultant).order_by(Consultant.id)
            if enabled_only:
                query = query.where(Consultant.enabled.is_(True))
            return [ConsultantInfo.of(row) for row in await session.scalars(query)]

    async def phone_credentials(self) -> list[tuple[str, str]]:
        """(endpoint, digest) of every enabled consultant's phone, for pjsip_consultants.conf."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(Consultant.sip_username, Consultant.sip_digest)
                .where(Consultant.enabled.is_(True))
                .order_by(Consultant.id)
            )
            return [(name, digest) for name, digest in rows]
