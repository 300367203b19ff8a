"""Reading POSTed forms strictly: urlencoded only, UTF-8 only, every field declared with a length limit.

aiohttp's own ``request.post()`` would turn bad bytes into a 500; here they become a ``BadForm`` (400).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from aiohttp import web

from agent_console.errors import BadForm

# The whole body; aiohttp itself refuses anything over the app's client_max_size with a 413.
MAX_FIELDS = 16
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


async def read_form(
    request: web.Request, limits: Mapping[str, int], *, required: bool = True
) -> dict[str, str]:
    """The declared fields of the form (``limits``: name → maximum length in characters), all of them
    ``required`` by default.

    Undeclared fields are ignored; a missing, duplicated or too long field, a non-UTF-8 byte or another
    content type is a ``BadForm``.
    """
    if request.content_type != FORM_CONTENT_TYPE:
        raise BadForm(f"content type {request.content_type!r}", "errors.form_type")
    charset = (request.charset or "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise BadForm(f"charset {charset!r}", "errors.form_encoding")
    body = await request.read()
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError as exc:
        raise BadForm("form is not UTF-8", "errors.form_encoding") from exc
    except ValueError as exc:
        raise BadForm("too many form fields", "errors.form_too_many") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name not in limits:
            continue
        if name in form:
            raise BadForm(f"field {name!r} given twice", "errors.form_duplicate", field=name)
        if len(value) > limits[name]:
            raise BadForm(f"field {name!r} has {len(value)} characters", "errors.form_too_long", field=name)
        if any(ord(ch) < 32 and ch not in "\t" for ch in value):
            raise BadForm(f"control character in field {name!r}", "errors.form_encoding")
        form[name] = value
    for name in limits:
        if required and name not in form:
            raise BadForm(f"field {name!r} missing", "errors.form_missing", field=name)
    return form
