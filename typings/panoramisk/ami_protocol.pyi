import asyncio

from panoramisk.message import Message

class AMIProtocol(asyncio.Protocol):
    transport: asyncio.Transport | None
    def handle_message(self, message: Message) -> None: ...
