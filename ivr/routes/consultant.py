"""The consultants' feature codes (``dialplans/consultants.conf``): log in, log out, pause, available.

Dialplan contract: ``AGI(agi://…/consultant,<action>,<reason>)`` from a consultant's phone. Who calls is the
channel's endpoint, which PJSIP authenticated (``PJSIP/c1001-…``), never a caller ID; the action and reason
are the dialplan's fixed words, checked here again. The answer is a short prompt, in Polish.
"""

from __future__ import annotations

import logging
import re

from hotline.consultants import ConsultantError
from ivr.fastagi import Channel, Route
from ivr.prompts import prompt_file
from ivr.services import IvrServices

log = logging.getLogger(__name__)

PHONE_CHANNEL = re.compile(r"^PJSIP/(c[0-9]{4,9})-[0-9a-f]{8}$")
PROMPTS = {
    "login": "consultant_logged_in",
    "logout": "consultant_logged_out",
    "pause": "consultant_paused",
    "available": "consultant_available",
}
LANGUAGE = "pl"


def route(services: IvrServices) -> Route:
    def prompt(name: str) -> str:
        return prompt_file(services.sounds_dir, LANGUAGE, name)

    async def consultant(channel: Channel) -> None:
        env = channel.env
        action = env.arguments[0] if env.arguments else ""
        reason = env.arguments[1] if len(env.arguments) > 1 else ""
        match = PHONE_CHANNEL.fullmatch(env.channel)
        states = services.consultant_states
        if action not in PROMPTS or match is None or states is None:
            log.warning("feature code refused: action %r on channel %r", action[:20], env.channel[:60])
            await channel.stream_file(prompt("consultant_refused"))
            return
        who = await states.consultants.by_sip_username(match.group(1))
        if who is None or not who.enabled:
            log.warning("feature code from phone %s, which is no enabled consultant's", match.group(1))
            await channel.stream_file(prompt("consultant_refused"))
            return
        try:
            if action == "login":
                await states.log_in(who, source="phone")
            elif action == "logout":
                await states.log_out(who, source="phone")
            elif action == "pause":
                await states.pause(who, reason, source="phone")
            else:
                await states.available(who, source="phone")
        except ConsultantError as exc:
            log.info("feature code %s of %s refused: %s", action, who.username, exc)
            await channel.stream_file(prompt("consultant_refused"))
            return
        await channel.stream_file(prompt(PROMPTS[action]))

    return consultant
