"""Who is at the other end, and over what: the socket's peer, or what a trusted reverse proxy says.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only from the proxies named in
``settings.console_trusted_proxies`` (none by default); anyone else could write them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, networks: Iterable[IPNetwork] = ()) -> None:
        self.networks = tuple(networks)

    @classmethod
    def parse(cls, setting: str) -> TrustedProxies:
        """``"127.0.0.1, 10.0.0.0/8"``; a value that is no address or network stops the console at start."""
        networks = []
        for item in setting.split(","):
            if not item.strip():
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(
                    f"console_trusted_proxies: {item.strip()!r} is no address or network"
                ) from exc
        return cls(networks)

    def trusts(self, address: str | None) -> bool:
        peer = _address(address) if address else None
        return peer is not None and any(peer in network for network in self.networks)

    def client_address(self, request: web.BaseRequest) -> str:
        """The address the request came from: behind trusted proxies, the last one they did not add."""
        peer = request.remote or "unknown"
        if not self.trusts(peer):
            return peer
        hops = [
            hop.strip() for value in request.headers.getall("X-Forwarded-For", []) for hop in value.split(",")
        ]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                # Garbage from the client side of the proxy: the last address we can vouch for.
                return peer
            if not self.trusts(hop):
                return str(address)
            peer = str(address)
        return peer

    def is_https(self, request: web.BaseRequest) -> bool:
        """Whether the browser reached us over HTTPS: our own TLS, or a trusted proxy's word for it."""
        if request.secure:
            return True
        if not self.trusts(request.remote):
            return False
        # The last value is the one our proxy wrote; one before it may come from the browser.
        values = [
            v.strip() for value in request.headers.getall("X-Forwarded-Proto", []) for v in value.split(",")
        ]
        return bool(values) and values[-1].lower() == "https"
