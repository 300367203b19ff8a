"""The HTTP server under the console's routes: what it answers when aiohttp cannot even parse a request.

aiohttp answers a malformed request line or header itself, before any middleware runs: a plain-text page in
English that repeats the bad input, without the security headers, naming aiohttp's version in ``Server``.
``ConsoleRunner`` serves those answers with the console's own error page and headers instead. aiohttp has no
public hook for this (aio-libs/aiohttp#3287), so it overrides ``RequestHandler.handle_error``; the tests send
malformed requests over a raw socket and would notice if an upgrade of aiohttp went around it.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestHandler

from agent_console import keys
from agent_console.middlewares import bare_error_page

log = logging.getLogger(__name__)


class _BareResponse(web.Response):
    """A response that names no server software (no ``on_response_prepare`` runs for it)."""

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        self.headers.popall(hdrs.SERVER, None)


class _ConsoleRequestHandler(RequestHandler):
    def __init__(self, manager: _ConsoleServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._console_app = manager.console_app

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            log.error("request from %s failed outside the console's routes", request.remote, exc_info=exc)
        else:
            # The parser's message quotes the bad bytes: only the kind of error goes to the log.
            log.info("malformed request from %s answered %s (%s)", request.remote, status, type(exc).__name__)
        if request.writer.output_size > 0:
            raise ConnectionError("the answer was already on its way: no error page can follow it")
        text_key = "errors.bad_request" if status == 400 else f"errors.{status}"
        if text_key not in self._console_app[keys.TEXTS]:
            text_key = "errors.other"
        body, headers = bare_error_page(self._console_app, status, text_key)
        response = _BareResponse(status=status, body=body.encode(), headers=headers)
        response.force_close()
        return response


class _ConsoleServer(web.Server):
    console_app: web.Application

    def __call__(self) -> RequestHandler:
        return _ConsoleRequestHandler(self, loop=self._loop, **self._kwargs)


class ConsoleRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer malformed requests with the console's error page."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _ConsoleServer
        assert isinstance(server, _ConsoleServer)
        server.console_app = self.app
        return server
