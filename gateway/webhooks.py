"""Webhook delivery over HTTP, and the dispatcher job every gateway process runs.

Deliveries go through the public-only session (`gateway.urlguard`): the host is resolved,
every address checked, and the connection made to a checked address; an IP literal is
checked before the request starts. Redirects are never followed (a 3xx is a failed
delivery) and each try has a short timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
from aiohttp import web

from gateway.appkeys import (
    database_url_key,
    db_key,
    public_http_key,
    settings_key,
    webhook_listener_key,
)
from gateway.background import stop
from gateway.listener import WakingListener
from gateway.settings import Settings
from webhooks.dispatch import CHANNEL, Schedule, Sender, run
from webhooks.errors import DeliveryFailed

log = logging.getLogger(__name__)

#: How the dispatchers' LISTEN connections show in `pg_stat_activity`.
LISTEN_APPLICATION_NAME = "maas-webhooks-listen"


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


async def webhooks_context(app: web.Application) -> AsyncIterator[None]:
    """Start the dispatcher of this process (every process runs one; they share the work).

    It LISTENs for queued deliveries and polls every `webhook_interval_s` besides.
    """
    settings = app[settings_key]
    sender = http_sender(app[public_http_key], settings.webhook_timeout_s)
    wake = asyncio.Event()
    listener = WakingListener(app[database_url_key], CHANNEL, wake.set, LISTEN_APPLICATION_NAME)
    app[webhook_listener_key] = listener
    jobs = [
        asyncio.create_task(listener.run(), name="webhooks-listen"),
        asyncio.create_task(
            run(
                app[db_key],
                sender,
                schedule_of(settings),
                settings.webhook_interval_s,
                wake,
                settings.signing_secret,
            ),
            name="webhooks-dispatch",
        ),
    ]
    yield
    await stop(*jobs)
