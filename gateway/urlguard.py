"""Outgoing URLs that operators configure must point at the public internet.

Otherwise an operator's key could make the gateway fetch its own metadata
service, Redis or an internal admin page (server-side request forgery). A URL
is checked when it is configured, and its host again at every connection
(`PublicResolver`): a name that resolved to a public address then may resolve
to a private one later (DNS rebinding). An IP literal, which aiohttp connects to
without asking a resolver, is checked before every request (`public_only_trace`),
and IPv6 forms that carry an IPv4 address (NAT64 `64:ff9b::/96`, 6to4
`2002::/16`, IPv4-mapped and -compatible) are judged by the address they carry.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from types import SimpleNamespace
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from gateway.problems import Problem

#: IPv6 prefixes that translate to IPv4: the local-use NAT64 prefix (RFC 8215) reaches
#: whatever the translator's network holds, so it is never public.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 address stands for (NAT64, 6to4, mapped), if any."""
    if ip in _NAT64 or (ip.packed[:12] == bytes(12) and int(ip) > 0xFFFF):
        return ipaddress.IPv4Address(ip.packed[-4:])  # NAT64, or IPv4-compatible ::a.b.c.d
    return ip.ipv4_mapped or ip.sixtofour


def is_public_address(address: str) -> bool:
    """Whether an address is on the public internet, judging IPv6 forms of IPv4 by the IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return False
        if (embedded := _embedded_ipv4(ip)) is not None:
            return embedded.is_global and not embedded.is_multicast
    return ip.is_global and not ip.is_multicast


_public = is_public_address


async def check_public_url(url: str, field: str, allow_private: bool) -> None:
    """Refuse (422) a URL whose host is not resolvable or resolves to a non-public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refused(field, f"{url!r} is not an http(s) URL")
    if allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError):  # UnicodeError: a host name IDNA cannot encode
        raise _refused(field, f"the host {parts.hostname!r} does not resolve") from None
    private = sorted({str(info[4][0]) for info in infos if not _public(str(info[4][0]))})
    if private:
        raise _refused(field, f"{parts.hostname!r} resolves to non-public {', '.join(private)}")


def _refused(field: str, detail: str) -> Problem:
    return Problem(
        422,
        "url_not_allowed",
        "URL not allowed",
        f"body.{field}: {detail}",
        errors=[{"field": f"body.{field}", "message": detail, "type": "url_not_allowed"}],
    )


class NonPublicAddressError(OSError):
    """A host resolved to an address that is not on the public internet."""


class PublicResolver(AbstractResolver):
    """Resolve like aiohttp's default resolver, but refuse a host with a non-public address."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Return the host's addresses, or raise `NonPublicAddressError` if any is private."""
        results = await self._inner.resolve(host, port, family)
        private = sorted({r["host"] for r in results if not _public(r["host"])})
        if private:
            # errno and strerror: aiohttp's connection error shows only those.
            raise NonPublicAddressError(
                errno.EACCES, f"{host!r} resolves to non-public {', '.join(private)}"
            )
        return results

    async def close(self) -> None:
        """Close the underlying resolver."""
        await self._inner.close()


def _literal(host: str) -> str | None:
    """Return the host as an address when it is an IP literal, else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0]))
    except ValueError:
        return None


async def _check_literal(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceRequestStartParams,
) -> None:
    host = params.url.host or ""
    address = _literal(host)
    if address is not None and not _public(address):
        raise NonPublicAddressError(errno.EACCES, f"{address} is not a public address")


def public_only_trace() -> aiohttp.TraceConfig:
    """Return a trace that refuses a request to a non-public IP literal before it connects."""
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(_check_literal)
    return trace
