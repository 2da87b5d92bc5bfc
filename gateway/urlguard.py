"""Outgoing URLs that operators configure must point at the public internet.

Otherwise an operator's key could make the gateway fetch its own metadata
service, Redis or an internal admin page (server-side request forgery). A URL
is checked when it is configured, and its host again at every connection
(`PublicResolver`): a name that resolved to a public address then may resolve
to a private one later (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from gateway.problems import Problem


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


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
    except OSError:
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
