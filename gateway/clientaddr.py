"""The client's address: the peer, or behind trusted reverse proxies what they forwarded."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from gateway.appkeys import settings_key
from gateway.settings import Network


def client_address(request: web.Request) -> str:
    """Return the address to rate-limit and log a request by.

    The peer's address, unless the peer is one of `MAAS_TRUSTED_PROXIES`: then the
    nearest X-Forwarded-For entry that is not a trusted proxy (the header is read from
    the right, as each proxy appends; entries a client wrote itself come first and are
    never believed past an untrusted hop).
    """
    return forwarded_client(
        request.remote or "",
        request.headers.getall("X-Forwarded-For", []),
        request.app[settings_key].trusted_proxies,
    )


def forwarded_client(peer: str, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """Return the client address given the peer, the X-Forwarded-For headers and trusted proxies."""
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    address = peer
    while _is_trusted(address, trusted) and hops:
        address = hops.pop()
    return address


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    """Whether an address is one of the trusted proxies (a malformed one never is)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
