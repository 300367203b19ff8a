"""A transfer's case card (``dialplans/transfers.conf``, ``[hotline-transfer-card]``).

Dialplan contract: ``AGI(agi://…/transfer,<target>)`` on the channel that enters ``[hotline-transfer]``
(the caller's on a blind transfer, the consultation's local channel on an attended one); ``<target>`` is
the extension's own fixed word (a topic, or ``79``: an external number). Reads ``HOTLINE_CASE_CARD_NEW``
(a card the console wrote), ``HOTLINE_CALLER_UNIQUEID``, ``BLINDTRANSFER`` / ``ATTENDEDTRANSFER`` (the
transferring consultant's channel, set by Asterisk); sets ``__HOTLINE_CASE_CARD`` and, for ``79``, the
``HOTLINE_OUTBOUND_NUMBER`` that the card holds. Never stops the transfer: a failure leaves no card.
"""

from __future__ import annotations

import contextlib
import logging
import re

from hotline.ami import AmiError
from hotline.ami.actions import Setvar
from hotline.transfers import (
    CALLER_LANGUAGE_VARIABLE,
    CALLER_TOPIC_VARIABLE,
    CALLER_VARIABLE,
    CASE_CARD_VARIABLE,
    EXTERNAL_EXTENSION,
    NEW_CARD_VARIABLE,
    UNIQUEID,
    CaseCardView,
    TransferError,
    consultant_of_channel,
)
from ivr.fastagi import Channel, Route
from ivr.services import IvrServices

log = logging.getLogger(__name__)

WORD = re.compile(r"^[a-z_]{1,32}$")


def route(services: IvrServices) -> Route:
    async def transfer(channel: Channel) -> None:
        env = channel.env
        target = env.arguments[0] if env.arguments else ""
        cards, targets = services.case_cards, services.transfer_targets
        if cards is None or targets is None or (target not in targets.codes and target != EXTERNAL_EXTENSION):
            log.warning("transfer card refused: target %r on channel %r", target[:32], env.channel[:60])
            return
        caller = (await channel.get_variable(CALLER_VARIABLE)) or env.uniqueid
        if not UNIQUEID.fullmatch(caller):
            log.warning("transfer card refused: no caller's channel on %r", env.channel[:60])
            return
        card: CaseCardView | None = None
        new_id = await channel.get_variable(NEW_CARD_VARIABLE)
        if new_id and new_id.isdigit() and len(new_id) < 12:
            await channel.set_variable(NEW_CARD_VARIABLE, "")
            card = await cards.place(int(new_id), caller, target)
            if card is None:
                log.warning("case card %s is not this transfer's (stale or foreign): not used", new_id)
        if card is None:
            if target == EXTERNAL_EXTENSION:
                log.warning("external transfer of %s without the console's case card: refused", caller)
                return
            card = await phone_card(channel, caller, target)
        if card is None:
            return
        await channel.set_variable(f"__{CASE_CARD_VARIABLE}", str(card.id))
        if target == EXTERNAL_EXTENSION and card.target_number:
            await channel.set_variable("HOTLINE_OUTBOUND_NUMBER", card.target_number)
        if caller != env.uniqueid:
            await mark_caller(caller, card.id)

    async def phone_card(channel: Channel, caller: str, target: str) -> CaseCardView | None:
        """The card of a transfer made with the phone's feature: who made it is Asterisk's word."""
        assert services.case_cards is not None and services.transfer_targets is not None
        attended = await channel.get_variable("ATTENDEDTRANSFER")
        transferer = attended or await channel.get_variable("BLINDTRANSFER") or ""
        consultant = await consultant_of_channel(services.sessions, transferer)
        if consultant is None:
            log.warning("transfer from %r, which is no consultant's phone: no card", transferer[:60])
            return None
        topic = await channel.get_variable(CALLER_TOPIC_VARIABLE)
        language = await channel.get_variable(CALLER_LANGUAGE_VARIABLE)
        try:
            return await services.case_cards.create(
                caller,
                services.transfer_targets.topic(target),
                mode="attended" if attended else "blind",
                source="phone",
                consultant=consultant,
                placed=True,
                topic=topic if topic and WORD.fullmatch(topic) else None,
                language=language if language and WORD.fullmatch(language) else None,
            )
        except TransferError as exc:
            log.warning("no case card for the transfer of %s: %s", caller, exc)
            return None

    async def mark_caller(caller: str, card_id: int) -> None:
        """An attended transfer runs on the consultation's channel: the caller's gets the card's id too."""
        states = services.consultant_states
        ami = states.ami if states is not None else None
        if ami is None or not ami.connected:
            return
        with contextlib.suppress(AmiError):
            await ami.send(Setvar(channel=caller, variable=f"__{CASE_CARD_VARIABLE}", value=str(card_id)))

    return transfer
