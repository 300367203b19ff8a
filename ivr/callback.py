"""The call-back request, offered outside the consultants' hours: the caller confirms their own number or keys
in another, agrees to be called back, and the request is stored (through the call recorder).

Built on :class:`ivr.dialog.Dialog`; the prompts and limits come from the menu's ``callback`` section.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Protocol

from hotline.phone import parse_dialable
from ivr.dialog import BACK_KEY, Dialog, Digits, GaveUp, Prompt, Question, StepJournal
from ivr.menu import CallbackFlow, Messages

log = logging.getLogger(__name__)


class CallbackJournal(StepJournal, Protocol):
    async def request_callback(self, number: str, topic: str, consent: bool) -> None:
        """Store a call-back request (deduplicated by the store)."""


class CallbackResult(Enum):
    REQUESTED = "requested"
    DECLINED = "declined"  # the caller said no (consent)
    NO_ANSWER = "no_answer"  # the caller did not answer a question (nothing, or wrong keys, every try)
    BACK = "back"  # the caller pressed `#` at the offer: back to the menu they came from


async def offer_callback(
    dialog: Dialog,
    flow: CallbackFlow,
    messages: Messages,
    journal: CallbackJournal,
    *,
    topic: str,
    callerid: str,
    region: str,
    can_go_back: bool,
    uniqueid: str,
    once: bool = False,
) -> CallbackResult:
    """Tell the caller consultants are closed and offer a call-back about ``topic``; with ``once`` (a caller
    who has pressed nothing) the offer is not repeated when nothing is pressed."""
    tries = 1 if once else flow.max_tries
    question = Question(flow.timeout_ms, tries, messages.no_input, messages.invalid_key)
    await journal.step("callback", None)
    await dialog.tell(dialog.prompts([flow.closed]))
    try:
        offer = dialog.prompts([flow.offer])
        if await dialog.choose("callback_offer", offer, "1", question, back=can_go_back) == BACK_KEY:
            return CallbackResult.BACK
        number = await _callback_number(dialog, flow, messages, journal, question, callerid, region)
        consent = await dialog.choose("callback_consent", dialog.prompts([flow.consent]), "12", question)
    except GaveUp as exc:
        log.info("call %s: no answer to %s, ending without a call-back", uniqueid, exc)
        await dialog.play(dialog.prompts([flow.not_registered, flow.goodbye]), interruptible=False)
        return CallbackResult.NO_ANSWER
    if consent != "1":
        await dialog.play(dialog.prompts([flow.not_registered, flow.goodbye]), interruptible=False)
        return CallbackResult.DECLINED
    await journal.request_callback(number, topic, True)
    log.info("call %s: call-back requested (topic %s)", uniqueid, topic)
    await dialog.play(dialog.prompts([flow.registered, flow.goodbye]), interruptible=False)
    return CallbackResult.REQUESTED


async def _callback_number(
    dialog: Dialog,
    flow: CallbackFlow,
    messages: Messages,
    journal: StepJournal,
    question: Question,
    callerid: str,
    region: str,
) -> str:
    """The number to call back, in E.164: the caller's own, confirmed, or one typed in and read back."""
    caller = parse_dialable(callerid, region)
    if caller is not None:
        items = [
            *dialog.prompts([flow.caller_number]),
            Digits(caller.spoken),
            *dialog.prompts([flow.caller_number_keys]),
        ]
        if await dialog.choose("callback_caller_number", items, "12", question) == "1":
            return caller.e164
    failures = 0
    while True:
        dialog.forget_typed_ahead()  # get_data plays its prompt and collects the digits itself
        entry = await dialog.channel.get_data(
            dialog.file(Prompt(flow.enter_number, dialog.language)), flow.entry_timeout_ms, flow.max_digits
        )
        typed = entry.digits.strip()
        number = parse_dialable(typed, region) if typed else None
        if number is None:
            # The journal never gets the typed digits: they are personal data.
            await journal.step("callback_number", "invalid_number" if typed else "timeout")
            failures += 1
            if failures >= flow.max_tries:
                raise GaveUp("callback_number")
            error = flow.number_invalid if typed else messages.no_input
            await dialog.play(dialog.prompts([error]), interruptible=False)
            continue
        await journal.step("callback_number", "entered")
        items = [*dialog.prompts([flow.readback]), Digits(typed), *dialog.prompts([flow.confirm])]
        if await dialog.choose("callback_confirm", items, "12", question) == "1":
            return number.e164
