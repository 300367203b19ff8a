"""The 19524 IVR route: the caller's whole journey before a consultant (the menu of ``ivr/menu.yaml``).

Dialplan contract: reads the caller ID, ``CALLERID(pres)`` and ``CHANNEL(linkedid)``; sets ``HOTLINE_QUEUE``
(only when the caller is to be queued), ``HOTLINE_LANGUAGE``, ``HOTLINE_TOPIC`` and, last,
``HOTLINE_OUTCOME``.
"""

from __future__ import annotations

import logging

from hotline.calls import NewCall
from hotline.clock import utc_now
from hotline.phone import is_presentation_restricted, normalise_caller
from ivr.fastagi import Channel, Route
from ivr.journal import DatabaseJournal
from ivr.services import IvrServices
from ivr.session import run_ivr

log = logging.getLogger(__name__)


def route(services: IvrServices) -> Route:
    settings = services.settings

    async def ivr(channel: Channel) -> None:
        env = channel.env
        presentation = await channel.get_variable("CALLERID(pres)")
        caller = normalise_caller(
            env.callerid,
            settings.default_region,
            presentation_restricted=is_presentation_restricted(presentation),
            keep_restricted=settings.keep_withheld_numbers,
        )
        linkedid = await channel.get_variable("CHANNEL(linkedid)")
        # The AMI listener usually stores the call first; whichever side comes first creates the record.
        services.recorder.entered(
            NewCall(
                uniqueid=env.uniqueid,
                caller=caller,
                linkedid=linkedid,
                channel=env.channel[:128],
                dialed=env.extension[:32],
                # The dialplan answered before the AGI; the listener may have stored Asterisk's own time.
                answered_at=utc_now(),
            ),
        )
        journal = DatabaseJournal(
            services.recorder,
            services.sessions,
            uniqueid=env.uniqueid,
            # A withheld number is not used to recognise a returning caller.
            caller_e164=caller.presented,
            returning_days=settings.returning_caller_days,
            now=services.now,
            live=services.live,
        )
        try:
            result = await run_ivr(
                channel,
                services.menu,
                services.hours,
                journal,
                sounds_dir=services.sounds_dir,
                now=services.now,
                region=settings.default_region,
                speech=services.speech,
                speech_languages=services.speech_languages,
            )
        finally:
            await journal.flush()
        log.info("IVR done: %s %s", result.outcome, result.queue or "")

    return ivr
