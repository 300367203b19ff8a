"""Session epochs: ending an account's sessions at once, in every console process.

Each account has an epoch in Redis (``<prefix>:console:epoch:<user id>``; none means 0). A session cookie
carries the epoch of its sign-in and is good only while that is still the account's epoch. Sign-out,
disabling and enabling an account increment it, so every cookie issued before (a copy too) stops working on
its next request. A key outlives any cookie that could carry its value (12 hours after its last change).

When Redis does not answer, a process goes by the epochs it has seen or changed itself: an account it ended
sessions of stays ended there, and the increment is sent to Redis when it answers again. A session whose
account this process has never seen cannot be checked and is let through; it still ends when idle.
"""

from __future__ import annotations

from collections import OrderedDict

import redis.asyncio as redis

from agent_console.security import SESSION_MAX_AGE
from agent_console.shared_state import RedisUnavailable, SharedState

KEEP_FOR = SESSION_MAX_AGE + 3600
REMEMBERED = 10_000


class SessionEpochs:
    def __init__(self, shared: SharedState) -> None:
        self._shared = shared
        self._known: OrderedDict[int, int] = OrderedDict()
        # Increments made while Redis did not answer, per account, to send when it does.
        self._unsent: dict[int, int] = {}

    def _key(self, user_id: int) -> str:
        return self._shared.key("epoch", user_id)

    def _remember(self, user_id: int, epoch: int) -> None:
        self._known[user_id] = epoch
        self._known.move_to_end(user_id)
        while len(self._known) > REMEMBERED:
            self._known.popitem(last=False)

    async def _send_unsent(self, client: redis.Redis) -> None:
        for user_id in list(self._unsent):
            async with client.pipeline(transaction=True) as pipe:
                pipe.incrby(self._key(user_id), self._unsent[user_id])
                pipe.expire(self._key(user_id), KEEP_FOR)
                await pipe.execute()
            del self._unsent[user_id]

    async def current(self, user_id: int) -> int | None:
        """The account's epoch; ``None`` when Redis does not answer and this process has not seen it."""

        async def read(client: redis.Redis) -> int:
            await self._send_unsent(client)
            value = await client.get(self._key(user_id))
            return int(value or 0)

        try:
            epoch = await self._shared.run("session epochs", read)
        except RedisUnavailable:
            return self._known.get(user_id)
        self._remember(user_id, epoch)
        return epoch

    async def end_sessions(self, user_id: int, seen: int = 0) -> bool:
        """End every session of the account (``seen``: the epoch of the session asking, if any). False when
        only this process knows it yet (Redis did not answer)."""

        async def increment(client: redis.Redis) -> int:
            await self._send_unsent(client)
            async with client.pipeline(transaction=True) as pipe:
                pipe.incr(self._key(user_id))
                pipe.expire(self._key(user_id), KEEP_FOR)
                value, _ = await pipe.execute()
            return int(value)

        try:
            epoch = await self._shared.run("session epochs", increment)
        except RedisUnavailable:
            self._remember(user_id, max(self._known.get(user_id, seen), seen) + 1)
            self._unsent[user_id] = self._unsent.get(user_id, 0) + 1
            return False
        self._remember(user_id, epoch)
        return True
