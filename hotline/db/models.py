"""The stored picture of the hotline: calls, their path through the IVR, callback requests, console users,
the directory of local labour offices."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from hotline.clock import utc_now


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on SQLite (which keeps naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


utcnow = utc_now


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Call(Base):
    """One call into the hotline, keyed by the Asterisk uniqueid of the caller's channel."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    linkedid: Mapped[str | None] = mapped_column(String(64), index=True)
    channel: Mapped[str | None] = mapped_column(String(128))
    dialed: Mapped[str | None] = mapped_column(String(32))
    # E.164 (+48…) when the number could be read; None when withheld or unreadable.
    caller_number: Mapped[str | None] = mapped_column(String(32), index=True)
    caller_withheld: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the network sent, truncated: kept for the record, never used for routing.
    caller_raw: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(8))
    topic: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(32))
    # a hotline.outcomes.CallOutcome
    outcome: Mapped[str | None] = mapped_column(String(32))
    # The caller's previous call, so the console can walk a caller's history.
    previous_call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))

    steps: Mapped[list[CallStep]] = relationship(
        back_populates="call", order_by="CallStep.id", cascade="all, delete-orphan"
    )


class CallStep(Base):
    """One step of a call's path: a node of the menu entered, or a key pressed in it."""

    __tablename__ = "call_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    node: Mapped[str] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(32))
    # A spoken answer (key "said:…"): the text recognised ("" for silence) and the recogniser's confidence.
    # Personal data like the number: exported with the call, cleared by `hotline caller erase`.
    heard: Mapped[str | None] = mapped_column(String(200))
    confidence: Mapped[float | None] = mapped_column(Float)

    call: Mapped[Call] = relationship(back_populates="steps")


class CallbackRequest(Base):
    """A caller's request to be called back when consultants are in."""

    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(32))
    consent: Mapped[bool] = mapped_column(Boolean)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    # pending (to be called: after hours, or a retry) | waiting (its placeholder holds a place in a queue)
    # | dialing (a consultant took the placeholder; the caller is being called) | done | failed (no answer
    # after every attempt) | unknown (the hotline lost sight of an attempt once dialled: never retried)
    # | cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # "number|topic" while active (pending, waiting, dialing), None afterwards: one per number and topic.
    pending_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # after_hours (the IVR's offer when closed) | in_queue (a caller who left the queue, keeping their place)
    kind: Mapped[str] = mapped_column(String(16), default="after_hours", server_default="after_hours")
    language: Mapped[str | None] = mapped_column(String(8))
    # The Asterisk queue and the caller's place in it when they left it (in_queue).
    queue: Mapped[str | None] = mapped_column(String(40))
    position: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_result: Mapped[str | None] = mapped_column(String(16))

    attempt_rows: Mapped[list[CallbackAttempt]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="CallbackAttempt.id"
    )


class CallbackAttempt(Base):
    """One attempt at a call-back: its placeholder in the queue, the consultant who took it, the result."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("callback_requests.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    # The placeholder's channel id (Asterisk uniqueid of its Local channel, "cb-<request>-<attempt>").
    channel_id: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # When a consultant took the placeholder (and the caller was dialled), and which.
    dialed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    consultant: Mapped[str | None] = mapped_column(String(40))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # answered | no_answer | busy | failed | lost (placeholder gone before a consultant took it) | unknown
    result: Mapped[str | None] = mapped_column(String(16))

    request: Mapped[CallbackRequest] = relationship(back_populates="attempt_rows")


class ConsoleUser(Base):
    """A consultant or supervisor who signs in to the agent console."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(Text)
    # consultant | supervisor
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Consultant(Base):
    """A consultant's phone, site, skills and state in the queues: the source of truth that Asterisk's queue
    members are rebuilt from (hotline.consultants)."""

    __tablename__ = "consultants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    console_user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id"), unique=True)
    # The PJSIP endpoint and the user name the phone authenticates with ("c1001").
    sip_username: Mapped[str] = mapped_column(String(32), unique=True)
    # The digest the phone's password gives (MD5 of "user:realm:password"); the password itself is shown once.
    sip_digest: Mapped[str] = mapped_column(String(64))
    # centre (Białystok) | office (a labour office's consultation point: office_code) | ecam (OHP)
    site: Mapped[str] = mapped_column(String(16))
    office_code: Mapped[str | None] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    logged_in: Mapped[bool] = mapped_column(Boolean, default=False)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_reason: Mapped[str | None] = mapped_column(String(32))
    state_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    user: Mapped[ConsoleUser] = relationship(lazy="joined")
    skills: Mapped[list[ConsultantSkill]] = relationship(
        back_populates="consultant",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="ConsultantSkill.id",
    )


class ConsultantSkill(Base):
    """A topic in a language that a consultant serves, with their level (1 can help, 2 good, 3 expert)."""

    __tablename__ = "consultant_skills"
    __table_args__ = (UniqueConstraint("consultant_id", "topic", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultant_id: Mapped[int] = mapped_column(ForeignKey("consultants.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    level: Mapped[int] = mapped_column(Integer)

    consultant: Mapped[Consultant] = relationship(back_populates="skills")


class ConsultantStateChange(Base):
    """Each change of a consultant's state, who or what made it, and why: the audit of their day."""

    __tablename__ = "consultant_state_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultant_id: Mapped[int] = mapped_column(ForeignKey("consultants.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # login | logout | pause | available
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    # phone | console | cli | hotline (no answer, restart)
    source: Mapped[str] = mapped_column(String(16))


class LabourOffice(Base):
    """A local labour office (PUP) of the directory that consultants transfer callers to
    (``hotline.labour_offices``). Never deleted: a case card may name one; ``active`` is false once a full
    import no longer lists it."""

    __tablename__ = "labour_offices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stable identifier from the import file ("PUP-2001"); case cards and transfers refer to it.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # TERYT code of the voivodeship (hotline.teryt.VOIVODESHIPS)
    voivodeship: Mapped[str] = mapped_column(String(2), index=True)
    # The seat: the town where the office is.
    town: Mapped[str] = mapped_column(String(100))
    # The switchboard in E.164; a placeholder until someone checked it with the office (phone_verified).
    phone: Mapped[str] = mapped_column(String(20))
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Folded (lower case, no diacritics) names, towns and codes the search looks in.
    search_terms: Mapped[str] = mapped_column(Text, default="")
    # Of the imported row, to tell a changed office from an unchanged one.
    content_hash: Mapped[str] = mapped_column(String(32))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    powiats: Mapped[list[LabourOfficePowiat]] = relationship(
        back_populates="office", order_by="LabourOfficePowiat.position", cascade="all, delete-orphan"
    )
    branches: Mapped[list[LabourOfficeBranch]] = relationship(
        back_populates="office", order_by="LabourOfficeBranch.position", cascade="all, delete-orphan"
    )


class LabourOfficePowiat(Base):
    """A powiat that a labour office serves (one office may serve a city and the powiat around it)."""

    __tablename__ = "labour_office_powiats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("labour_offices.id", ondelete="CASCADE"), index=True)
    # TERYT code (four digits, the voivodeship's two first) and name ("m. Białystok", "białostocki").
    teryt: Mapped[str] = mapped_column(String(4), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # Order in the import file: the first is the office's own powiat.
    position: Mapped[int] = mapped_column(Integer)

    office: Mapped[LabourOffice] = relationship(back_populates="powiats")


class LabourOfficeBranch(Base):
    """A branch office (filia) of a labour office, in another town, with its own number when it has one."""

    __tablename__ = "labour_office_branches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("labour_offices.id", ondelete="CASCADE"), index=True)
    town: Mapped[str] = mapped_column(String(100))
    # E.164, or None when the branch is reached through the office's switchboard.
    phone: Mapped[str | None] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)

    office: Mapped[LabourOffice] = relationship(back_populates="branches")


class Recording(Base):
    """A recording of a call with a consultant (``hotline.recordings``): the file under the recordings folder
    and what it holds. The row outlives the file: a purge (retention) or a caller's erasure deletes the file
    and marks the row, so the figures and the audit keep it."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The caller's call (its channel's uniqueid, and the row once it is known).
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    call_uniqueid: Mapped[str] = mapped_column(String(64), index=True)
    consultant_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultants.id", ondelete="SET NULL"), index=True
    )
    # The Asterisk queue the caller was answered from ("jobs-uk").
    queue: Mapped[str | None] = mapped_column(String(48))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # Set when the recording ended and its file was closed: length, size and SHA-256 of the file.
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    # Relative to the recordings folder: "2026/12/02/1764669600.42.WAV".
    path: Mapped[str] = mapped_column(String(200), unique=True)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # When the file was deleted, and why: retention (hotline recordings purge) | erased (a caller's request).
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    deleted_reason: Mapped[str | None] = mapped_column(String(16))


class CaseCard(Base):
    """A transfer of a call and what the next consultant should know (``hotline.transfers``): one row per
    transfer, so a call transferred twice has two, the latest on top. The receiving side finds it by the
    card's id (the channel variable ``HOTLINE_CASE_CARD``) or by the caller's channel."""

    __tablename__ = "case_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The caller's channel (Asterisk uniqueid), and the call's record once it is found.
    caller_uniqueid: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # What the caller chose in the IVR: a topic of hotline/queues.yaml and a language.
    topic: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    # The call's steps through the menu when it was transferred, as JSON: [["welcome", "2"], ["main", "1"]].
    ivr_path: Mapped[str] = mapped_column(Text, default="[]")
    # The first consultant's note (bounded; carried over to the next card of the call).
    note: Mapped[str] = mapped_column(Text, default="")
    # Who transferred: the consultant (None if the phone was no consultant's any more) and their name then.
    consultant_id: Mapped[int | None] = mapped_column(ForeignKey("consultants.id", ondelete="SET NULL"))
    consultant_name: Mapped[str] = mapped_column(String(128), default="")
    # Where to: queue (target: a topic) | external (target: "ecam" or a labour office's code; the number)
    target_kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(32))
    target_number: Mapped[str | None] = mapped_column(String(20))
    # blind | attended; from the phone's feature code or the console
    mode: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    # True once the dialplan took the caller (or the attended consultation) to the target.
    placed: Mapped[bool] = mapped_column(Boolean, default=False)
