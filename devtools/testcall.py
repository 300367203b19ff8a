"""A real test call into the hotline: ``hotline call 19524 --dtmf 1,0``.

Asterisk calls itself over the loopback SIP trunk (PJSIP + RTP): AMI ``Originate`` places the calling leg,
which arrives on the hotline as a genuine inbound SIP call. Digits go out as RFC 4733 events (AMI
``PlayDTMF`` on the calling leg), each one sent when the IVR has started a command that reads keys, so the
run does not depend on timing. What the hotline did is read from AMI events of the inbound leg.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import secrets
import shlex
import wave
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hotline.ami import (
    AgiExec,
    AmiClient,
    AmiError,
    AmiEvent,
    Hangup,
    Newchannel,
    QueueCallerJoin,
    UserEvent,
    actions,
)
from hotline.phone import mask
from hotline.queues import topic_of

log = logging.getLogger(__name__)

DIAL_NUMBER = re.compile(r"^[0-9*#+]{1,32}$")
DTMF_DIGIT = re.compile(r"^[0-9*#A-D]$")
TRUNK = "loopback"
CALLING_CONTEXT = "hotline-testcall"


def originate_caller(
    number: str, *, caller: str, channel_id: str, context: str, timeout_s: float, name: str = "Test"
) -> actions.Originate:
    """A synthetic caller: Asterisk calls ``number`` over the loopback SIP trunk, presenting ``caller``;
    once answered, the calling leg runs ``context`` (which plays the caller's side)."""
    return actions.Originate(
        channel=f"PJSIP/{number}@{TRUNK}",
        context=context,
        exten="s",
        priority=1,
        caller_id=f'"{name}" <{caller}>',
        channel_id=channel_id,
        timeout_ms=int(timeout_s * 1000),
    )


def privacy_headers(caller: str) -> dict[str, str]:
    """Channel variables of the calling leg that make its INVITE say ``Privacy: id`` (RFC 3323), with the
    number in ``P-Asserted-Identity`` (RFC 3325), as a carrier sends a caller who withholds their number."""
    return {
        "PJSIP_HEADER(add,P-Asserted-Identity)": f"<sip:{caller}@127.0.0.1>",
        "PJSIP_HEADER(add,Privacy)": "id",
    }


# AGI commands during which a key press is read: the moment to send the next digit.
READING_COMMANDS = (
    "GET DATA",
    "WAIT FOR DIGIT",
    "GET OPTION",
    "STREAM FILE",
    "CONTROL STREAM FILE",
    "SAY DIGITS",
)
MULTI_WORD_COMMANDS = frozenset(
    (
        *READING_COMMANDS,
        "SET VARIABLE",
        "GET VARIABLE",
        "GET FULL VARIABLE",
        "CHANNEL STATUS",
        "SAY NUMBER",
        "SAY ALPHA",
        "SET MUSIC",
        "SET CONTEXT",
        "SET EXTENSION",
        "SET PRIORITY",
        "SET CALLERID",
        "RECORD FILE",
    )
)


class TestCallError(RuntimeError):
    """The test call could not be placed or followed."""


@dataclass(frozen=True)
class AgiCommand:
    command: str
    args: tuple[str, ...]
    result_code: int | None = None
    result: str = ""

    @property
    def prompt(self) -> str | None:
        if self.command in ("STREAM FILE", "GET DATA", "GET OPTION", "CONTROL STREAM FILE") and self.args:
            return self.args[0].rsplit("/", 1)[-1]
        return None

    @property
    def listens(self) -> bool:
        """The IVR listens to the caller's words (``EXEC AudioSocket``)."""
        return self.command == "EXEC" and bool(self.args) and self.args[0].lower() == "audiosocket"

    @property
    def waits_for_a_key(self) -> bool:
        """The IVR waits for the caller: a key is awaited (``WAIT FOR DIGIT``, ``GET DATA``)."""
        return self.command in ("WAIT FOR DIGIT", "GET DATA", "GET OPTION")

    def reads_keys(self, *, type_ahead: bool) -> bool:
        """Whether a key pressed now is read: while waiting for one, or (type-ahead) during a prompt."""
        if self.command in ("STREAM FILE", "CONTROL STREAM FILE", "SAY DIGITS"):
            return type_ahead and len(self.args) > 1 and self.args[1] != ""
        return self.command in READING_COMMANDS


@dataclass
class TestCallResult:
    caller: str
    answered: bool = False
    uniqueid: str | None = None
    # The caller's own leg (the one that presses keys and speaks): its channel name.
    calling_channel: str | None = None
    digits_sent: list[str] = field(default_factory=list)
    commands: list[AgiCommand] = field(default_factory=list)
    # The topic of the queue joined, and the Asterisk queue itself (topic and language: jobs-uk).
    queue: str | None = None
    asterisk_queue: str | None = None
    fallback: bool = False
    hung_up: bool = False
    hangup_cause: int | None = None
    waiting_for_input: bool = False
    listened: int = 0  # times the IVR listened for words
    said: int = 0  # phrases the caller spoke
    events: list[AmiEvent] = field(default_factory=list)
    # What the caller heard, recorded on the calling leg (when a recordings folder was given).
    recording: Path | None = None
    heard_seconds: float | None = None

    @property
    def prompts(self) -> list[str]:
        return [c.prompt for c in self.commands if c.prompt]

    def prompt_played(self, name: str) -> bool:
        """True when the IVR streamed the prompt and Asterisk reported success."""
        return any(c.prompt == name and c.result_code == 200 and c.result == "Success" for c in self.commands)

    @property
    def ended(self) -> str:
        if self.queue:
            return f"in queue {self.queue}" + (" (dialplan fallback)" if self.fallback else "")
        if self.hung_up:
            return f"hung up by the hotline (cause {self.hangup_cause})"
        if self.waiting_for_input:
            return "in the IVR, waiting for a key"
        return "still in the IVR"

    def describe(self) -> str:
        lines = [
            f"caller:      {self.caller}",
            f"answered:    {'yes' if self.answered else 'no'}",
            f"uniqueid:    {self.uniqueid or '-'}",
            f"digits sent: {','.join(self.digits_sent) or '-'}",
            f"prompts:     {', '.join(self.prompts) or '-'}",
            f"heard:       {'-' if self.heard_seconds is None else f'{self.heard_seconds:.1f} s of sound'}",
            f"ended:       {self.ended}",
        ]
        return "\n".join(lines)


def _parse_agi_command(text: str) -> tuple[str, tuple[str, ...]]:
    """Split an AGI command line as AMI reports it into its name and arguments."""
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    upper = [w.upper() for w in words]
    for size in (3, 2):
        name = " ".join(upper[:size])
        if name in MULTI_WORD_COMMANDS:
            return name, tuple(words[size:])
    return (upper[0] if upper else ""), tuple(words[1:])


def random_caller() -> str:
    """A random Polish mobile number, so each test call can be told apart by its caller ID."""
    return "+48600" + "".join(secrets.choice("0123456789") for _ in range(6))


async def place_test_call(
    ami: AmiClient,
    number: str = "19524",
    dtmf: Sequence[str] = (),
    *,
    caller: str | None = None,
    timeout: float = 60.0,
    hang_up: bool = True,
    until: str = "settled",
    recordings_dir: Path | None = None,
    type_ahead_from: int | None = 0,
    withheld: bool = False,
    say: Sequence[str] = (),
) -> TestCallResult:
    """Place one call and follow it.

    ``until``: ``settled`` (default) ends when every digit is sent and the call has joined a queue, been hung
    up by the hotline, or would read another key (even during a prompt); ``question`` likewise, but only
    when the IVR waits for a key after its prompts; ``queue`` waits for a queue or hang-up; ``hangup`` waits
    for the hotline to hang up. With ``hang_up`` the calling leg hangs up at the end and the inbound leg's
    end is awaited. Digits from index ``type_ahead_from`` on are typed ahead: pressed as soon as a prompt that
    accepts keys starts. Earlier ones (all of them with ``None``) are pressed patiently, when the IVR waits
    for a key after its prompts. With ``recordings_dir`` (the instance's ``spool/monitor`` folder on the
    host), what the caller heard is recorded and measured into ``heard_seconds``. With ``withheld`` the caller
    withholds their number as a carrier signals it: ``From`` carries the number, ``P-Asserted-Identity`` too,
    and ``Privacy: id`` asks that it be shown to nobody. ``say``: sound files (as Asterisk sees them, without
    extension) the caller speaks, one each time the IVR starts listening (``EXEC AudioSocket``; "" stays
    silent that time); with
    ``until="settled"`` the call is settled only once all of them were said (or a key was awaited).
    """
    if not DIAL_NUMBER.match(number):
        raise TestCallError(f"not a number that can be dialled: {number!r}")
    digits = [d.strip().upper() for d in dtmf if d.strip()]
    for digit in digits:
        if not DTMF_DIGIT.match(digit):
            raise TestCallError(f"not a DTMF digit: {digit!r}")
    caller = caller or random_caller()
    if not (DIAL_NUMBER.match(caller) or caller == "anonymous"):
        raise TestCallError(f"not a caller number: {caller!r}")
    result = TestCallResult(caller=caller)
    token = secrets.token_hex(6)
    calling_id = f"testcall-{token}"
    events = ami.subscribe()
    pending_digits = list(digits)
    pending_speech = list(say)
    calling_channel: str | None = None
    open_commands: dict[str, AgiCommand] = {}
    recording_started = False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    async def next_event() -> AmiEvent:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError
        return await asyncio.wait_for(events.get(), remaining)

    try:
        originate = originate_caller(
            number, caller=caller, channel_id=calling_id, context=CALLING_CONTEXT, timeout_s=min(timeout, 30)
        )
        variables = {"HOTLINE_TESTCALL_ID": token}
        if withheld:
            variables.update(privacy_headers(caller))
        await ami.send(
            dataclasses.replace(originate, variables=variables),
            # panoramisk waits for the OriginateResponse, which comes when the hotline answers.
            timeout=min(timeout, 30) + 5,
        )
        while True:
            try:
                event = await next_event()
            except TimeoutError:
                log.warning("test call %s: no conclusion within %.0f s", mask(caller), timeout)
                break
            if event.uniqueid == calling_id:
                if event.channel:
                    calling_channel = result.calling_channel = event.channel
                if isinstance(event, Hangup) and result.uniqueid is None:
                    raise TestCallError(f"the call was not answered ({event.cause} {event.cause_txt})")
                if event.name == "MixMonitorStart":
                    recording_started = True
                continue
            if result.uniqueid is None:
                if (
                    isinstance(event, Newchannel)
                    and event.caller_id_num == caller
                    and event.context == "hotline"
                ):
                    result.uniqueid = event.uniqueid
                    result.events.append(event)
                continue
            if event.uniqueid != result.uniqueid:
                continue
            result.events.append(event)
            if event.name == "Newstate" and event.fields.get("ChannelState") == "6":
                result.answered = True
            elif isinstance(event, QueueCallerJoin):
                result.queue = topic_of(event.queue)
                result.asterisk_queue = event.queue
                if until in ("settled", "question", "queue"):
                    break
            elif isinstance(event, UserEvent) and event.user_event == "HotlineFallback":
                result.fallback = True
            elif isinstance(event, Hangup):
                result.hung_up = True
                result.hangup_cause = event.cause
                break
            elif isinstance(event, AgiExec):
                if event.phase == "start":
                    name, args = _parse_agi_command(event.command)
                    command = AgiCommand(name, args)
                    open_commands[event.command_id] = command
                    if command.listens:
                        # Words first; a key pressed while the IVR listens answers too (AudioSocket
                        # forwards it).
                        result.listened += 1
                        if pending_speech:
                            sound = pending_speech.pop(0)
                            if sound:  # "": the caller stays silent this time
                                await _speak(ami, calling_channel, sound)
                                result.said += 1
                        elif pending_digits:
                            digit = pending_digits.pop(0)
                            await _send_digit(ami, calling_channel, digit)
                            result.digits_sent.append(digit)
                        elif until == "settled":
                            result.waiting_for_input = True
                            result.commands.append(command)
                            break
                        continue
                    sent = len(result.digits_sent)
                    type_ahead = type_ahead_from is not None and sent >= type_ahead_from
                    if command.reads_keys(type_ahead=type_ahead):
                        if pending_digits:
                            digit = pending_digits.pop(0)
                            await _send_digit(ami, calling_channel, digit)
                            result.digits_sent.append(digit)
                        elif pending_speech and not command.waits_for_a_key:
                            pass  # the caller is yet to speak: this prompt leads to the IVR listening
                        elif until == "settled" or (until == "question" and command.waits_for_a_key):
                            # "question": the IVR asks and waits; a prompt that merely could be cut is not
                            # a question yet, and the call goes on to the question that follows it.
                            result.waiting_for_input = True
                            result.commands.append(command)
                            break
                else:
                    started = open_commands.pop(event.command_id, None)
                    if started is not None:
                        result.commands.append(
                            AgiCommand(started.command, started.args, event.result_code, event.result)
                        )
    finally:
        if hang_up:
            await _hang_up(ami, calling_channel or calling_id)
            await _await_end(events, result, calling_id, recording_started, deadline=loop.time() + 15)
        ami.unsubscribe(events)
    if hang_up and recordings_dir is not None and recording_started:
        result.recording = recordings_dir / f"testcall-{token}.wav"
        await await_complete_wav(result.recording, deadline=loop.time() + 10)
        result.heard_seconds = sound_seconds(result.recording)
    return result


async def press(ami: AmiClient, result: TestCallResult, digit: str) -> None:
    """The caller of ``result`` (still on the line) presses ``digit`` (RFC 4733, as a phone sends it)."""
    if not DTMF_DIGIT.match(digit) or result.calling_channel is None:
        raise TestCallError(f"cannot press {digit!r} on this call")
    await _send_digit(ami, result.calling_channel, digit)


async def _send_digit(ami: AmiClient, channel: str | None, digit: str) -> None:
    if channel is None:
        raise TestCallError("the calling leg is unknown; cannot send DTMF")
    # "Async: false" spares panoramisk a KeyError on the "DTMF successfully queued" reply.
    await ami.send(actions.PlayDtmf(channel=channel, digit=digit))


async def _speak(ami: AmiClient, channel: str | None, sound: str) -> None:
    """The caller says something: their leg plays ``sound`` once ([hotline-testcall-say])."""
    if channel is None:
        raise TestCallError("the calling leg is unknown; cannot speak")
    await ami.send(actions.Setvar(variable="HOTLINE_TESTCALL_SAY", value=sound, channel=channel))
    await ami.send(actions.Redirect(channel=channel, context=f"{CALLING_CONTEXT}-say", exten="s"))


async def _hang_up(ami: AmiClient, channel: str) -> None:
    with contextlib.suppress(AmiError):
        await ami.send(actions.Hangup(channel=channel))


async def _await_end(
    events: asyncio.Queue[AmiEvent],
    result: TestCallResult,
    calling_id: str,
    recording: bool,
    *,
    deadline: float,
) -> None:
    """Wait until both legs have hung up."""
    inbound_done = result.uniqueid is None or result.hung_up
    recording_done = not recording
    loop = asyncio.get_running_loop()
    while not (inbound_done and recording_done) and (remaining := deadline - loop.time()) > 0:
        try:
            event = await asyncio.wait_for(events.get(), remaining)
        except TimeoutError:
            return
        if event.uniqueid == result.uniqueid:
            result.events.append(event)
            if isinstance(event, Hangup):
                inbound_done = True
        elif event.uniqueid == calling_id and isinstance(event, Hangup):
            recording_done = True


async def await_complete_wav(path: Path, *, deadline: float) -> None:
    """MixMonitor closes its file after the hang-up; wait until the WAV header covers the whole file."""
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        with contextlib.suppress(OSError, wave.Error, EOFError):
            with wave.open(str(path), "rb") as wav:
                expected = wav.getnframes() * wav.getsampwidth() * wav.getnchannels()
            if expected > 0 and path.stat().st_size >= 44 + expected:
                return
        await asyncio.sleep(0.05)
    raise TestCallError(f"the recording {path} was not completed")


def sound_seconds(path: Path, *, frame_ms: int = 20, threshold: int = 300) -> float:
    """Seconds of a 16-bit mono WAV whose loudness (RMS of 20 ms frames) is above a quiet-line threshold."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise TestCallError(f"{path}: expected 16-bit mono audio")
        rate = wav.getframerate()
        samples = array("h", wav.readframes(wav.getnframes()))
    size = rate * frame_ms // 1000
    loud = 0
    for start in range(0, len(samples) - size + 1, size):
        frame = samples[start : start + size]
        if (sum(x * x for x in frame) / size) ** 0.5 > threshold:
            loud += 1
    return loud * frame_ms / 1000
