"""Live state in Redis: the current picture of calls (a hash) and the ordered changes (a stream).

A wallboard or console reads the snapshot, then follows the stream from the snapshot's position. Redis is
the live view only: the database keeps the record, so a Redis outage is logged and never loses a call.

Changes go out through one writer task, a batch per round trip (``MULTI`` … ``EXEC``: a reader never sees a
call's state ahead of or behind the stream). This process is the only writer of the calls it reports, so it
keeps their current state in memory and never reads it back.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from hotline.batching import BatchWriter
from hotline.clock import Clock, utc_now
from hotline.settings import masked_url

log = logging.getLogger(__name__)


class LiveState:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "hotline",
        stream_maxlen: int = 100_000,
        stream_hours: float = 24,
        remember: int = 50_000,
        clock: Clock = utc_now,
    ) -> None:
        self.url = url
        self.calls_key = f"{prefix}:calls"
        self.stream_key = f"{prefix}:events"
        # The stream is bounded twice: in length, and in time (its changes carry callers' numbers).
        self.stream_maxlen = stream_maxlen
        self.stream_age = timedelta(hours=stream_hours)
        self.clock = clock
        self._redis: redis.Redis = redis.from_url(url, decode_responses=True, socket_timeout=2)
        self._healthy = True
        # The state of each call now in the hotline, as last published (bounded: a lost hang-up must not
        # make it grow forever).
        self._states: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._remember = remember
        # Calls that ended lately: a late change of one (the IVR's last step after the hang-up) must not put
        # it back in the picture.
        self._ended: OrderedDict[str, None] = OrderedDict()
        self.writer: BatchWriter[dict[str, Any]] = BatchWriter("live state", self._publish)

    def start(self) -> None:
        self.writer.start()

    async def ping(self) -> bool:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            log.warning(
                "Redis at %s does not answer (%s): live state is off until it does", masked_url(self.url), exc
            )
            self._healthy = False
            return False
        return True

    def call_changed(self, kind: str, uniqueid: str, **fields: Any) -> None:
        """Record a change of a call: ``kind`` is entered, answered, menu (the IVR's progress: node, language,
        topic), queued, fallback or ended."""
        self.writer.put({"kind": kind, "uniqueid": uniqueid, "at": self.clock().isoformat(), **fields})

    def _oldest_kept(self) -> str:
        """The stream id (milliseconds since the epoch) before which changes are too old to keep."""
        return f"{int((self.clock() - self.stream_age).timestamp() * 1000)}-0"

    async def _publish(self, events: Sequence[dict[str, Any]]) -> None:
        pipe = self._redis.pipeline(transaction=True)
        oldest = self._oldest_kept()
        for event in events:
            uniqueid = event["uniqueid"]
            if event["kind"] == "ended":
                self._states.pop(uniqueid, None)
                self._ended[uniqueid] = None
                while len(self._ended) > self._remember:
                    self._ended.popitem(last=False)
                pipe.hdel(self.calls_key, uniqueid)
            elif uniqueid in self._ended:
                continue
            else:
                state = self._states.setdefault(uniqueid, {"uniqueid": uniqueid})
                state.update({k: v for k, v in event.items() if k != "kind"}, state=event["kind"])
                self._states.move_to_end(uniqueid)
                while len(self._states) > self._remember:
                    self._states.popitem(last=False)
                pipe.hset(self.calls_key, uniqueid, json.dumps(state))
            pipe.xadd(self.stream_key, {"event": json.dumps(event)}, minid=oldest, approximate=False)
        pipe.xtrim(self.stream_key, maxlen=self.stream_maxlen, approximate=True)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            if self._healthy:
                log.warning("live state not updated, Redis failed: %s", exc)
            self._healthy = False
            return
        finally:
            await pipe.reset()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        if not self._healthy:
            log.info("Redis answers again: live state is back")
            self._healthy = True

    async def snapshot(self) -> tuple[str, dict[str, dict[str, Any]]]:
        """The calls now in the hotline, and the stream position from which to follow changes."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xrevrange(self.stream_key, count=1)
            pipe.hgetall(self.calls_key)
            last, calls = await pipe.execute()
        position = last[0][0] if last else "0-0"
        return position, {uniqueid: json.loads(state) for uniqueid, state in calls.items()}

    async def changes(self, after: str = "0-0", count: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        entries: list[Any] = await self._redis.xrange(self.stream_key, min=f"({after}", count=count) or []
        return [(str(entry_id), json.loads(fields["event"])) for entry_id, fields in entries]

    async def _calls(self) -> dict[str, str]:
        return {
            str(uniqueid): str(state)
            for uniqueid, state in (await self._redis.hgetall(self.calls_key)).items()
        }

    async def start_fresh(self) -> None:
        """At start: see whether Redis answers, and drop what a previous run left stale (see forget_stale)."""
        if await self.ping():
            try:
                dropped = await self.forget_stale()
            except (RedisError, OSError) as exc:
                log.warning("live state: stale calls not dropped, Redis failed: %s", exc)
            else:
                if dropped:
                    log.info("live state: dropped %d calls whose end was never seen", dropped)
        self.start()

    async def forget_stale(self) -> int:
        """Drop from the picture the calls whose last change is older than the stream keeps (their hang-up was
        never seen: a restart, an AMI outage), and trim the stream to its time limit. Returns the calls
        dropped."""
        limit = self.clock() - self.stream_age
        calls = await self._calls()
        stale = [uniqueid for uniqueid, state in calls.items() if _changed_at(state) < limit]
        async with self._redis.pipeline(transaction=True) as pipe:
            if stale:
                pipe.hdel(self.calls_key, *stale)
            pipe.xtrim(self.stream_key, minid=self._oldest_kept(), approximate=False)
            await pipe.execute()
        for uniqueid in stale:
            self._states.pop(uniqueid, None)
        return len(stale)

    async def erase_number(self, number: str, *, chunk: int = 1000) -> int:
        """Remove every trace of an E.164 number: the calls from it in the picture, and the changes naming
        it in the stream. Returns how many entries were removed."""
        calls = await self._calls()
        mine = [uniqueid for uniqueid, state in calls.items() if json.loads(state).get("caller") == number]
        removed = await self._redis.hdel(self.calls_key, *mine) if mine else 0
        for uniqueid in mine:
            self._states.pop(uniqueid, None)
        after = "-"
        while True:
            entries: list[Any] = await self._redis.xrange(self.stream_key, min=after, count=chunk) or []
            naming = [
                entry_id
                for entry_id, fields in entries
                if json.loads(fields["event"]).get("caller") == number
            ]
            if naming:
                removed += await self._redis.xdel(self.stream_key, *naming)
            if len(entries) < chunk:
                return int(removed)
            after = f"({entries[-1][0]}"

    async def clear(self) -> None:
        await self._redis.delete(self.calls_key, self.stream_key)

    async def close(self) -> None:
        await self.writer.close(timeout=5.0)
        await self._redis.aclose()


def _changed_at(state: str) -> datetime:
    try:
        return datetime.fromisoformat(json.loads(state)["at"])
    except (ValueError, KeyError, TypeError):
        return datetime.min.replace(tzinfo=UTC)  # unreadable: stale
