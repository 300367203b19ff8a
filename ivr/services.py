"""What the AGI routes need, built once when the FastAGI service starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from hotline.calls import Sessions
from hotline.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IvrServices:
    settings: Settings
    sessions: Sessions
    # Where Asterisk finds the prompts: f"{sounds_dir}/{language}/{prompt_id}".
    sounds_dir: str
    now: Callable[[], datetime] = utc_now
