"""The call-back key pressed while waiting in a queue (``[hotline-queue-keys]``, rendered from the queues
file).

Dialplan contract: ``AGI(agi://…/queue-callback,<QUEUEPOSITION>)`` on the caller's channel, which carries
``HOTLINE_ASTERISK_QUEUE``; sets ``HOTLINE_CALLBACK=booked`` when the call-back is booked (the caller may hang
up: a placeholder keeps their place), and otherwise leaves it unset (the dialplan puts the caller back in the
queue, at their place). The number called back is the caller's own, as their carrier presented it: a withheld
or undialable number is not booked.
"""

from __future__ import annotations

import logging

from hotline.phone import is_presentation_restricted, normalise_caller, parse_dialable
from ivr.fastagi import Channel, Route
from ivr.prompts import prompt_file
from ivr.services import IvrServices

log = logging.getLogger(__name__)


def route(services: IvrServices) -> Route:
    settings = services.settings

    def prompt(language: str, name: str) -> str:
        return prompt_file(services.sounds_dir, language, name)

    async def queue_callback(channel: Channel) -> None:
        env = channel.env
        argument = env.arguments[0] if env.arguments else ""
        position = int(argument) if argument.isdigit() and 0 < int(argument) < 100000 else None
        name = await channel.get_variable("HOTLINE_ASTERISK_QUEUE") or ""
        queue = services.queues.parse_asterisk_name(name) if services.queues is not None else None
        language = queue.language if queue is not None else "pl"
        presentation = await channel.get_variable("CALLERID(pres)")
        caller = normalise_caller(
            env.callerid,
            settings.default_region,
            presentation_restricted=is_presentation_restricted(presentation),
            keep_restricted=False,
        )
        dialable = parse_dialable(caller.presented, settings.default_region) if caller.presented else None
        dialer = services.callback_dialer
        if queue is None or dialable is None or dialer is None:
            log.info(
                "call-back in the queue not possible (queue %s, number presented: %s)", queue, bool(dialable)
            )
            await channel.stream_file(prompt(language, "queue_callback_impossible"))
            return
        request_id = await dialer.store.book_in_queue(
            env.uniqueid,
            number=dialable.e164,
            topic=queue.topic,
            language=language,
            queue=queue.name,
            position=position,
        )
        if request_id is None:
            log.info("call-back in the queue: one is active for this number and topic already")
            await channel.stream_file(prompt(language, "queue_callback_already"))
            return
        # The placeholder first: the caller's place must be held before anything else takes time.
        placed = await dialer.place_now(request_id)
        log.info(
            "call-back %d booked from %s at place %s (placeholder: %s)",
            request_id,
            queue.name,
            position,
            placed,
        )
        await channel.set_variable("HOTLINE_CALLBACK", "booked")
        await channel.stream_file(prompt(language, "queue_callback_booked"))

    return queue_callback
