"""The consultants' phones in Asterisk: ``pjsip_consultants.conf``, rendered from the database, and a reload.

Adding, changing or disabling a consultant rewrites the file and asks Asterisk to reload its PJSIP module
(AMI ``Reload``, by the one AMI user allowed to, which can do nothing else): no restart, calls in progress go
on. Each phone is an endpoint, an auth and an aor on the committed templates of ``pjsip.conf``
(``[hotline-phone]``…): identified by its credentials' user name, reaching the feature codes only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from hotline.ami import AmiError, send_once
from hotline.ami.actions import Reload
from hotline.consultants.directory import DIGEST, SIP_USERNAME, Consultants
from hotline.settings import Settings

log = logging.getLogger(__name__)

PHONES_FILE = "pjsip_consultants.conf"


def render_phones(phones: Iterable[tuple[str, str]]) -> str:
    """The endpoints of ``(endpoint name, digest)`` pairs; a malformed pair is left out (and logged), so no
    value can break out of its line."""
    sections = ["; Consultants' phones, generated from the database by hotline.consultants.phones.\n"]
    for name, digest in phones:
        if not SIP_USERNAME.fullmatch(name) or not DIGEST.fullmatch(digest):
            log.error("consultant phone %r left out of %s: malformed name or digest", name[:40], PHONES_FILE)
            continue
        sections.append(
            f"\n[{name}](hotline-phone)\nauth = {name}\naors = {name}\n"
            f"\n[{name}](hotline-phone-auth)\nusername = {name}\npassword_digest = MD5:{digest}\n"
            f"\n[{name}](hotline-phone-aor)\n"
        )
    return "".join(sections)


def write_private(path: Path, content: str) -> None:
    """Write ``path`` readable by its folder's group (Asterisk's) and its owner only, atomically."""
    group = path.parent.stat().st_gid
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as fh:
        os.fchown(fh.fileno(), -1, group)
        fh.write(content)
    os.replace(tmp, path)


class ConsultantPhones:
    """Keeps ``<Asterisk's configuration folder>/pjsip_consultants.conf`` true to the database."""

    def __init__(self, consultants: Consultants, etc: Path, settings: Settings) -> None:
        self.consultants = consultants
        self.path = etc / PHONES_FILE
        self.settings = settings

    async def write(self) -> int:
        """Write the file (before Asterisk starts, or before a reload); returns how many phones it holds."""
        phones = await self.consultants.phone_credentials()
        write_private(self.path, render_phones(phones))
        return len(phones)

    async def sync(self) -> bool:
        """Write the file and have the running Asterisk reload it. False (logged) when Asterisk cannot be
        reached: the file is written, and Asterisk reads it when it starts."""
        count = await self.write()
        try:
            reload = Reload(module="res_pjsip.so")
            await send_once(self.settings, reload, username=self.settings.ami_config_username)
        except AmiError as exc:
            log.warning("consultants' phones written (%d), but Asterisk did not reload them: %s", count, exc)
            return False
        log.info("consultants' phones reloaded in Asterisk: %d", count)
        return True
