"""Domain errors of the console. The error middleware catches each one, logs it and shows a Polish page."""

from __future__ import annotations

from typing import Any


class ConsoleError(Exception):
    """An error a person can be told about: the HTTP status and the text key of the message."""

    status = 500
    text_key = "errors.500"

    def __init__(self, detail: str, text_key: str | None = None, **text_values: Any) -> None:
        super().__init__(detail)
        # The detail is for the log (English, no personal data); the text is for the person.
        self.detail = detail
        if text_key is not None:
            self.text_key = text_key
        self.text_values = text_values


class BadForm(ConsoleError):
    status = 400
    text_key = "errors.400"


class CsrfRefused(ConsoleError):
    status = 403
    text_key = "errors.csrf"
