"""What the AGI routes need, built (and validated) once when the FastAGI service starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from hotline.call_recorder import CallRecorder
from hotline.calls import Sessions
from hotline.clock import utc_now
from hotline.settings import PROJECT_ROOT, Settings
from ivr.hours import OpeningHours, load_hours
from ivr.menu import Menu, load_menu
from ivr.prompts import PromptCatalog

PROMPTS_FILE = PROJECT_ROOT / "recordings" / "prompts.yaml"


@dataclass(frozen=True)
class IvrServices:
    settings: Settings
    sessions: Sessions
    # Writes what happens to calls, in batches (shared with the AMI listener in one process).
    recorder: CallRecorder
    menu: Menu
    hours: OpeningHours
    # Where Asterisk finds the prompts: f"{sounds_dir}/{language}/{prompt_id}".
    sounds_dir: str
    now: Callable[[], datetime] = utc_now


def load_ivr_services(
    settings: Settings,
    sessions: Sessions,
    recorder: CallRecorder,
    sounds_dir: str,
    *,
    now: Callable[[], datetime] = utc_now,
) -> IvrServices:
    """Load the menu and hours; a broken file stops the service here with a message naming the node."""
    catalog = PromptCatalog.load(PROMPTS_FILE)
    menu = load_menu(settings.menu_file, catalog)
    hours = load_hours(settings.hours_file)
    return IvrServices(
        settings=settings,
        sessions=sessions,
        recorder=recorder,
        menu=menu,
        hours=hours,
        sounds_dir=sounds_dir,
        now=now,
    )
