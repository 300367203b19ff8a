"""The IVR's prompts: the catalogue of texts (:mod:`.catalog`), the WAVs built from it (:mod:`.build`) and
where Asterisk finds them (:mod:`.files`)."""

from ivr.prompts.catalog import PromptCatalog, PromptError, normalize_text, text_sha256
from ivr.prompts.files import SOUND_PATH, dialplan_prompt_file, prompt_file

__all__ = [
    "SOUND_PATH",
    "PromptCatalog",
    "PromptError",
    "dialplan_prompt_file",
    "normalize_text",
    "prompt_file",
    "text_sha256",
]
