"""Sign-in throttling: growing delays per account and per address, shared by every console process.

Each account (the username typed, known or not) and each client address has a bucket: a count of failures
and the time of the last attempt. Past a number of free failures, the next attempt must wait a delay that
doubles with every failure, up to a ceiling. An attempt is counted *before* the password is checked (so forty
guesses sent at once get no more checks than the free ones) and given back when the password was right; a
sign-in that works also forgets the account's failures. A refused attempt is not counted, and costs no
password check. A bucket is forgotten some time after its last failure.

The buckets live in Redis (``<prefix>:console:login:…``, one Lua script checks and counts atomically); when
Redis does not answer, each process keeps its own buckets in memory until it does.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import redis.asyncio as redis

from agent_console.shared_state import RedisUnavailable, SharedState


@dataclass(frozen=True)
class Policy:
    free_failures: int
    # The wait after the first failure beyond the free ones; it doubles with each further failure.
    first_delay_ms: int = 1000
    max_delay_ms: int = 15 * 60 * 1000
    # A bucket is forgotten this long after its last counted attempt.
    forget_after_s: int = 3600

    def delay_ms(self, failures: int) -> int:
        if failures < self.free_failures:
            return 0
        # Doubling stops at the ceiling long before the exponent could grow large.
        steps = min(failures - self.free_failures, 32)
        return min(self.max_delay_ms, self.first_delay_ms << steps)


# One person mistyping: a few free tries. One address: an office behind one NAT signs in there every morning.
ACCOUNT_POLICY = Policy(free_failures=5)
ADDRESS_POLICY = Policy(free_failures=20)

# KEYS: the buckets. ARGV[1]: now (ms); then for each bucket: free failures, first delay, maximum delay (ms),
# forget after (s). Returns the wait in ms (0: the attempt is counted and may go ahead).
_ATTEMPT = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local at = 1 + (i - 1) * 4
  local free = tonumber(ARGV[at + 1])
  local state = redis.call('HMGET', key, 'failures', 'last')
  local failures = tonumber(state[1]) or 0
  if failures >= free then
    local steps = math.min(failures - free, 32)
    local delay = math.min(tonumber(ARGV[at + 3]), tonumber(ARGV[at + 2]) * 2 ^ steps)
    local left = (tonumber(state[2]) or 0) + delay - now
    if left > wait then wait = left end
  end
end
if wait > 0 then return math.ceil(wait) end
for i, key in ipairs(KEYS) do
  local at = 1 + (i - 1) * 4
  redis.call('HINCRBY', key, 'failures', 1)
  redis.call('HSET', key, 'last', ARGV[1])
  redis.call('EXPIRE', key, tonumber(ARGV[at + 4]))
end
return 0
"""

# KEYS[1]: the account's bucket (forgotten), KEYS[2]: the address's bucket (the attempt given back).
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
if redis.call('HINCRBY', KEYS[2], 'failures', -1) <= 0 then redis.call('DEL', KEYS[2]) end
return 0
"""

MEMORY_BUCKETS = 10_000


@dataclass
class _Bucket:
    failures: int
    last_ms: int


class LoginThrottle:
    def __init__(
        self,
        shared: SharedState,
        account_policy: Policy = ACCOUNT_POLICY,
        address_policy: Policy = ADDRESS_POLICY,
    ) -> None:
        self._shared = shared
        self._policies = (account_policy, address_policy)
        # Used only while Redis does not answer; bounded, oldest forgotten first.
        self._memory: OrderedDict[str, _Bucket] = OrderedDict()

    def _keys(self, username: str, address: str) -> tuple[str, str]:
        return (
            self._shared.key("login", "account", username),
            self._shared.key("login", "address", address),
        )

    async def attempt(self, username: str, address: str, now: float) -> float:
        """Seconds to wait before ``username`` may try again from ``address``; 0 means go ahead (the attempt
        is counted as a failure until ``succeeded``)."""
        keys = self._keys(username, address)
        now_ms = int(now * 1000)
        args: list[int] = [now_ms]
        for policy in self._policies:
            args += [policy.free_failures, policy.first_delay_ms, policy.max_delay_ms, policy.forget_after_s]

        async def attempt(client: redis.Redis) -> int:
            return int(await client.eval(_ATTEMPT, len(keys), *keys, *args))

        try:
            wait_ms = await self._shared.run("sign-in throttling", attempt)
        except RedisUnavailable:
            wait_ms = self._attempt_in_memory(keys, now_ms)
        return wait_ms / 1000

    async def succeeded(self, username: str, address: str) -> None:
        keys = self._keys(username, address)

        async def succeeded(client: redis.Redis) -> None:
            await client.eval(_SUCCEEDED, len(keys), *keys)

        try:
            await self._shared.run("sign-in throttling", succeeded)
        except RedisUnavailable:
            pass
        # Whichever store counted the attempt, neither keeps it.
        account, address_key = keys
        self._memory.pop(account, None)
        bucket = self._memory.get(address_key)
        if bucket is not None:
            bucket.failures -= 1
            if bucket.failures <= 0:
                del self._memory[address_key]

    def _attempt_in_memory(self, keys: tuple[str, str], now_ms: int) -> int:
        """The Lua script's twin, for this process alone (no await: nothing runs in between)."""
        buckets: list[_Bucket | None] = []
        wait = 0
        for key, policy in zip(keys, self._policies, strict=True):
            bucket = self._memory.get(key)
            if bucket is not None and now_ms - bucket.last_ms > policy.forget_after_s * 1000:
                del self._memory[key]
                bucket = None
            buckets.append(bucket)
            if bucket is not None:
                delay = policy.delay_ms(bucket.failures)
                if delay:
                    wait = max(wait, bucket.last_ms + delay - now_ms)
        if wait > 0:
            return wait
        for key, found in zip(keys, buckets, strict=True):
            bucket = found or _Bucket(failures=0, last_ms=now_ms)
            bucket.failures += 1
            bucket.last_ms = now_ms
            self._memory[key] = bucket
            self._memory.move_to_end(key)
        while len(self._memory) > MEMORY_BUCKETS:
            self._memory.popitem(last=False)
        return 0


def wait_seconds(wait: float) -> int:
    """A wait as the whole seconds a person is told (and ``Retry-After`` says): never 0 while refused."""
    return max(1, math.ceil(wait))
