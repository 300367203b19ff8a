"""The project's shipped data files, loaded once for the tests (paths from the default settings)."""

from __future__ import annotations

from hotline.queues import Queues
from hotline.settings import Settings
from ivr.prompts import PromptCatalog

DEFAULTS = Settings()
MENU_FILE = DEFAULTS.menu_file
HOURS_FILE = DEFAULTS.hours_file
PROMPTS_FILE = DEFAULTS.prompts_file
QUEUES = Queues.load(DEFAULTS.queues_file)
QUEUE_NAMES = QUEUES.names
CATALOG = PromptCatalog.load(PROMPTS_FILE)
