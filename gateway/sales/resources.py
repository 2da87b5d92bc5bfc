"""The sales resources of the application: adapters, fares cache, and the expiry job."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from gateway.appkeys import db_key, http_key, settings_key
from gateway.sales import idempotency
from gateway.sales.adapters import Adapters
from gateway.sales.bookings import expire_due
from gateway.sales.fares import FaresCache
from gateway.sales.legs import Sales
from gateway.sales.signing import check_active_keys
from operators.resilience import Policy

log = logging.getLogger(__name__)

sales_key = web.AppKey("sales", Sales)
fares_key = web.AppKey("fares", FaresCache)


async def _expiry_loop(sales: Sales, interval_s: float) -> None:
    while True:
        try:
            expired = await expire_due(sales)
            if expired:
                log.info("expired pending bookings", extra={"count": expired})
            await idempotency.purge_old(sales.pool)
        except Exception:  # the job must outlive a failed round (database restarting, ...)
            log.exception("booking expiry round failed")
        await asyncio.sleep(interval_s)


async def signing_keys_context(app: web.Application) -> AsyncIterator[None]:
    """Open every active signing key now, so a wrong secret stops start-up, not a sale."""
    secret = app[settings_key].signing_secret
    plain = await check_active_keys(app[db_key], secret)
    if secret is None:
        log.warning("MAAS_SIGNING_KEY_SECRET is not set: ticket-signing keys are stored in clear")
    elif plain:
        log.warning("signing keys in clear: run `maas signing-keys seal`", extra={"count": plain})
    yield


async def sales_context(app: web.Application) -> AsyncIterator[None]:
    """Build the adapters and start the background job that expires PENDING bookings."""
    settings = app[settings_key]
    policy = Policy(
        timeout_s=settings.operator_timeout_s,
        attempts=settings.operator_attempts,
        concurrency=settings.operator_concurrency,
    )
    adapters = Adapters(app[http_key], settings.maas_id, policy)
    sales = Sales(
        app[db_key], adapters, timedelta(seconds=settings.booking_hold_s), settings.signing_secret
    )
    app[sales_key] = sales
    app[fares_key] = FaresCache()
    job = asyncio.create_task(_expiry_loop(sales, settings.expiry_interval_s))
    yield
    job.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await job
