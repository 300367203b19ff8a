"""Consultants: who they are (phones, sites, skills) and their state in the queues.

- :mod:`.directory` — adding, listing and disabling consultants, their skills and phone credentials;
- :mod:`.states` — logging in and out of the queues, pausing, the "no answer" pause, and rebuilding Asterisk's
  queue members from the database after a restart (the database is the source of truth);
- :mod:`.phones` — the PJSIP endpoints of their phones, rendered from the database and reloaded in Asterisk.
"""

from hotline.consultants.directory import (
    SITES,
    ConsultantError,
    ConsultantInfo,
    Consultants,
    parse_skill,
)
from hotline.consultants.phones import ConsultantPhones
from hotline.consultants.states import ConsultantStates

__all__ = [
    "SITES",
    "ConsultantError",
    "ConsultantInfo",
    "ConsultantPhones",
    "ConsultantStates",
    "Consultants",
    "parse_skill",
]
