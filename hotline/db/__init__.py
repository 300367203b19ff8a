"""Persistence: SQLAlchemy 2.0 async models and sessions; schema changes are Alembic migrations."""

from hotline.db.engine import create_engine, insert_for, session_factory
from hotline.db.models import (
    Base,
    Call,
    CallbackAttempt,
    CallbackRequest,
    CallStep,
    CaseCard,
    ConsoleUser,
    Consultant,
    ConsultantSkill,
    ConsultantStateChange,
    Recording,
)

__all__ = [
    "Base",
    "Call",
    "CallStep",
    "CallbackAttempt",
    "CallbackRequest",
    "CaseCard",
    "ConsoleUser",
    "Consultant",
    "ConsultantSkill",
    "ConsultantStateChange",
    "Recording",
    "create_engine",
    "insert_for",
    "session_factory",
]
