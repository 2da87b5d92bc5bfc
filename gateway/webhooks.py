"""Webhook delivery over HTTP, and the dispatcher job every gateway process runs.

Deliveries go through the public-only session (`gateway.urlguard`): the host is resolved,
every address checked, and the connection made to a checked address; an IP literal is
checked before the request starts. Redirects are never followed (a 3xx is a failed
delivery) and each try has a short timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from gateway.appkeys import db_key, public_http_key, settings_key
from gateway.settings import Settings
from webhooks.dispatch import Schedule, Sender, dispatch_round
from webhooks.errors import DeliveryFailed

log = logging.getLogger(__name__)


def http_sender(session: aiohttp.ClientSession, timeout_s: float) -> Sender:
    """Return a sender that POSTs with `session`, following no redirect."""
    timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 3.0))

    async def send(url: str, headers: dict[str, str], body: bytes) -> int:
        try:
            async with session.post(
                url, data=body, headers=headers, allow_redirects=False, timeout=timeout
            ) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc

    return send


def schedule_of(settings: Settings) -> Schedule:
    """Return the retry schedule the settings ask for."""
    return Schedule(
        lease=timedelta(seconds=settings.webhook_timeout_s * 2 + 5),
        base=timedelta(seconds=settings.webhook_retry_base_s),
        cap=timedelta(seconds=settings.webhook_retry_cap_s),
        retry_for=timedelta(hours=settings.webhook_retry_for_h),
    )


async def _loop(app: web.Application, sender: Sender, schedule: Schedule) -> None:
    """Dispatch until cancelled; straight on while there is work, else every interval."""
    settings = app[settings_key]
    while True:
        delivered = 0
        try:
            delivered = await dispatch_round(
                app[db_key], sender, datetime.now(UTC), schedule, settings.signing_secret
            )
        except Exception:
            log.exception("webhook dispatch round failed")
        if not delivered:
            await asyncio.sleep(settings.webhook_interval_s)


async def webhooks_context(app: web.Application) -> AsyncIterator[None]:
    """Start the dispatcher of this process (every process runs one; they share the work)."""
    settings = app[settings_key]
    sender = http_sender(app[public_http_key], settings.webhook_timeout_s)
    job = asyncio.create_task(_loop(app, sender, schedule_of(settings)))
    yield
    job.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await job
