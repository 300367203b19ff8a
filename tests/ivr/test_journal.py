"""The IVR's journal of a call: what it hands to the call recorder."""

from __future__ import annotations

from datetime import UTC, datetime

from ivr.journal import CUT_MARKER, MAX_STEPS, DatabaseJournal


class Recorder:
    """The part of the call recorder the journal uses, keeping what it is handed."""

    def __init__(self) -> None:
        self.steps: list[tuple[object, ...]] = []
        self.fields: dict[str, str] = {}

    def menu(self, uniqueid: str, steps: list[tuple[object, ...]], **fields: str) -> None:
        self.steps.extend(steps)
        self.fields.update(fields)


async def test_a_journal_records_a_bounded_path() -> None:
    """A caller pressing keys for an hour, or a broken peer, does not grow the record without bound."""
    recorder = Recorder()
    journal = DatabaseJournal(
        recorder,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        uniqueid="1700000000.1",
        caller_e164=None,
        returning_days=0,
        now=lambda: datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
    )
    for _ in range(MAX_STEPS * 10):
        await journal.step("main", "7")
    await journal.finish("queued", "consultant")

    assert len(recorder.steps) == MAX_STEPS
    assert recorder.steps[-1][1:] == (CUT_MARKER, "cut")
    assert recorder.fields == {"outcome": "queued", "queue": "consultant"}


async def test_a_spoken_answer_is_a_step_with_what_was_heard() -> None:
    recorder = Recorder()
    journal = DatabaseJournal(
        recorder,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        uniqueid="1700000000.2",
        caller_e164=None,
        returning_days=0,
        now=lambda: datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
    )
    await journal.heard("main", "praca za granicą", 0.91234, "4")
    await journal.heard("main", "pogoda", 0.8, None)
    await journal.heard("main", "", 0.0, None)
    await journal.flush()
    assert [step[1:] for step in recorder.steps] == [
        ("main", "said:4", "praca za granicą", 0.912),
        ("main", "said:?", "pogoda", 0.8),
        ("main", "said:-", "", 0.0),
    ]
