"""The 19524 IVR route: the caller's whole journey before a consultant.

Dialplan contract: reads the caller ID and ``CHANNEL(linkedid)``; sets ``HOTLINE_QUEUE`` (the queue to join,
when the caller should reach a consultant), ``HOTLINE_OUTCOME``, ``HOTLINE_LANGUAGE``, ``HOTLINE_TOPIC``.
"""

from __future__ import annotations

import logging

from hotline import calls
from hotline.calls import NewCall
from hotline.phone import normalise_caller
from ivr.fastagi import CallerHungUp, Channel, Route
from ivr.services import IvrServices

log = logging.getLogger(__name__)


def route(services: IvrServices) -> Route:
    async def ivr(channel: Channel) -> None:
        env = channel.env
        caller = normalise_caller(env.callerid, services.settings.default_region)
        linkedid = await channel.get_variable("CHANNEL(linkedid)")
        call_id = await calls.open_call(
            services.sessions,
            NewCall(
                uniqueid=env.uniqueid,
                caller=caller,
                linkedid=linkedid,
                channel=env.channel[:128],
                dialed=env.extension[:32],
            ),
        )
        await calls.mark_answered(services.sessions, env.uniqueid, services.now())
        try:
            await calls.add_step(services.sessions, call_id, "greeting", None)
            await channel.stream_file(f"{services.sounds_dir}/pl/greeting")
            queue = services.settings.default_queue
            await calls.set_fields(
                services.sessions, env.uniqueid, language="pl", queue=queue, outcome="queued"
            )
            await channel.set_variable("HOTLINE_LANGUAGE", "pl")
            await channel.set_variable("HOTLINE_OUTCOME", "queued")
            await channel.set_variable("HOTLINE_QUEUE", queue)
        except CallerHungUp:
            await calls.set_outcome_if_unset(services.sessions, env.uniqueid, "hung_up_in_menu")
            raise

    return ivr
