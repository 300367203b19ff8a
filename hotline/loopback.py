"""What counts as a loopback address: the services Asterisk reaches (FastAGI, AudioSocket) listen on
nothing else unless told to."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
