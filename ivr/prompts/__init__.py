"""The IVR's prompts: the catalogue of texts (:mod:`.catalog`) and the WAVs built from it (:mod:`.build`)."""

from ivr.prompts.catalog import PromptCatalog, PromptError, normalize_text, text_sha256

__all__ = ["PromptCatalog", "PromptError", "normalize_text", "text_sha256"]
