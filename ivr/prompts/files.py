"""Where Asterisk finds a prompt: ``{sounds_dir}/{language}/{prompt_id}`` (no extension: Asterisk picks the
format), the layout :mod:`ivr.prompts.build` writes. Every place that names a prompt's file asks here."""

from __future__ import annotations

import re

# A path that may travel in a channel variable to the dialplan (which plays it): no space, no ``&``, ``,``,
# ``$``, quote or bracket that a dialplan application would read as more than one file or argument.
SOUND_PATH = re.compile(r"^[A-Za-z0-9/_.-]{1,200}$")


def prompt_file(sounds_dir: str, language: str, prompt_id: str) -> str:
    """The prompt's file as Asterisk finds it; ``sounds_dir`` is the prompts' folder as Asterisk sees it."""
    return f"{sounds_dir.rstrip('/')}/{language}/{prompt_id}"


def dialplan_prompt_file(sounds_dir: str, language: str, prompt_id: str) -> str | None:
    """:func:`prompt_file` for a channel variable the dialplan plays: None when the path is not a plain
    :data:`SOUND_PATH` (the caller then plays nothing rather than something unchecked)."""
    path = prompt_file(sounds_dir, language, prompt_id)
    return path if SOUND_PATH.fullmatch(path) else None
