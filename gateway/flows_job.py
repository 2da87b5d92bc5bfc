"""The trip-flows resource: the domain's configuration from settings, and its background job."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web

from flows.config import Controller, FlowsConfig
from flows.jobs import run_once
from gateway.appkeys import db_key, flows_key, settings_key
from gateway.background import raise_if_cancelling, stop
from gateway.settings import Settings

log = logging.getLogger(__name__)


def flows_config(settings: Settings) -> FlowsConfig:
    """Return the flows domain's configuration from the gateway's settings."""
    return FlowsConfig(
        timezone=ZoneInfo(settings.flows_timezone),
        k=settings.flows_k,
        budget_epsilon=settings.flows_budget_epsilon,
        max_trips_per_traveller=settings.flows_max_trips_per_traveller,
        max_cells=settings.flows_max_cells,
        close_after=timedelta(hours=settings.flows_close_after_h),
        key_grace=timedelta(days=settings.flows_key_grace_days),
        retention=timedelta(days=settings.flows_retention_days),
        controller=Controller(
            name=settings.flows_controller,
            contact=settings.flows_controller_contact,
            address=settings.flows_controller_address,
            policy_url=settings.flows_policy_url,
            jurisdiction=settings.flows_jurisdiction,
        ),
    )


async def _loop(pool: asyncpg.Pool, config: FlowsConfig, interval_s: float) -> None:
    while True:
        try:
            report = await run_once(pool, config, datetime.now(UTC))
            if report.recorded or report.keys_destroyed or report.periods_purged:
                log.info("trip flows job", extra={"report": dataclasses.asdict(report)})
        except Exception:  # the job must outlive a failed round (database restarting, ...)
            log.exception("trip flows round failed")
        raise_if_cancelling()
        await asyncio.sleep(interval_s)


async def flows_context(app: web.Application) -> AsyncIterator[None]:
    """Configure the flows domain and run its job (travel states, records, keys, retention)."""
    settings = app[settings_key]
    config = flows_config(settings)
    app[flows_key] = config
    job = asyncio.create_task(_loop(app[db_key], config, settings.flows_interval_s))
    yield
    await stop(job)
