"""The batching writer: order kept, batches formed while a write runs, bad items dropped alone, an unavailable
store waited for, memory bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from hotline.batching import BatchWriter


class Store:
    """A store that records each write; ``gate`` holds writes until opened; ``fail`` decides per write."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.down_for = 0  # the next N writes fail as if the store were unreachable

    async def write(self, items: Sequence[str]) -> None:
        await self.gate.wait()
        if self.down_for:
            self.down_for -= 1
            raise ConnectionError("store unreachable")
        if "bad" in items:
            raise ValueError("the store refuses 'bad'")
        self.batches.append(list(items))

    @property
    def written(self) -> list[str]:
        return [item for batch in self.batches for item in batch]


def transient(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionError)


async def test_changes_arriving_during_a_write_go_out_together_in_order() -> None:
    store = Store()
    writer = BatchWriter("test", store.write)
    writer.start()
    store.gate.clear()
    writer.put("a")
    await asyncio.sleep(0)  # the writer takes "a" and waits at the gate
    for item in ("b", "c", "d"):
        writer.put(item)
    store.gate.set()
    await writer.drain()
    assert store.batches == [["a"], ["b", "c", "d"]]
    await writer.close()


async def test_a_batch_is_never_larger_than_max_batch() -> None:
    store = Store()
    writer = BatchWriter("test", store.write, max_batch=2)
    for item in "abcde":
        writer.put(item)
    writer.start()
    await writer.drain()
    assert store.batches == [["a", "b"], ["c", "d"], ["e"]]
    await writer.close()


async def test_a_bad_change_is_dropped_alone_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    store = Store()
    writer = BatchWriter("test", store.write)
    for item in ("a", "bad", "c"):
        writer.put(item)
    writer.start()
    await writer.drain()
    assert store.written == ["a", "c"]
    assert writer.dropped == 1
    assert "test: dropped 'bad'" in caplog.text
    writer.put("d")
    await writer.drain()
    assert store.written == ["a", "c", "d"]
    await writer.close()


async def test_an_unreachable_store_is_waited_for_and_nothing_is_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store()
    writer = BatchWriter("test", store.write, transient=transient, retry_delays=(0.0,))
    store.down_for = 5
    for item in "abc":
        writer.put(item)
    writer.start()
    await writer.drain()
    assert store.written == ["a", "b", "c"]
    assert writer.dropped == 0
    assert "store unavailable" in caplog.text and "store available again" in caplog.text
    await writer.close()


async def test_pending_changes_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    store = Store()
    writer = BatchWriter("test", store.write, max_pending=3)
    for item in "abcde":
        writer.put(item)
    assert writer.pending == 3 and writer.dropped == 2
    writer.start()
    await writer.drain()
    assert store.written == ["c", "d", "e"]
    assert "dropped the oldest" in caplog.text
    await writer.close()


async def test_close_writes_what_is_queued() -> None:
    store = Store()
    writer = BatchWriter("test", store.write)
    writer.start()
    for item in "abc":
        writer.put(item)
    await writer.close()
    assert store.written == ["a", "b", "c"]
