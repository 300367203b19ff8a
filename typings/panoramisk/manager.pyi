import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

# What a sent action resolves to: one message, or the response and its events for a listing action.
ActionResult = Message | list[Message]

class Manager:
    loop: asyncio.AbstractEventLoop
    protocol: AMIProtocol | None
    _connected: bool
    def __init__(
        self,
        *,
        host: str = ...,
        port: int = ...,
        username: str = ...,
        secret: str = ...,
        encoding: str = ...,
        protocol_factory: type[AMIProtocol] = ...,
        ping_delay: float = ...,
        ping_interval: float = ...,
        reconnect_timeout: float = ...,
        on_login: Callable[[Manager], None] = ...,
        on_disconnect: Callable[[Manager, Exception | None], None] = ...,
        log: logging.Logger = ...,
        loop: asyncio.AbstractEventLoop | None = ...,
    ) -> None: ...
    def connect(self, run_forever: bool = ...) -> asyncio.Future[Any]: ...
    def connection_lost(self, exc: Exception | None) -> None: ...
    def send_action(
        self, action: Mapping[str, str | Sequence[str]], as_list: bool | None = ...
    ) -> asyncio.Future[ActionResult]: ...
    def register_event(
        self, pattern: str, callback: Callable[[Manager, Message], None] | None = ...
    ) -> None: ...
    def close(self) -> None: ...
