"""Cleanup contexts for the shared resources, in dependency order.

The cleanup of one runs only if its start-up finished, so a gateway that
fails half-way through start-up closes exactly what it opened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from gateway import embedded
from gateway.appkeys import (
    cache_key,
    database_url_key,
    db_key,
    fares_key,
    http_key,
    local_counts_key,
    public_http_key,
    redis_key,
    redis_url_key,
    sales_key,
    settings_key,
)
from gateway.background import raise_if_cancelling, stop
from gateway.cache_listen import cache_context
from gateway.dbcodecs import init_connection
from gateway.flows_job import flows_context
from gateway.migrate import migrate
from gateway.operator_store import check_tomp_tokens
from gateway.ratelimit import LocalCounts
from gateway.realtime.service import realtime_context
from gateway.redisguard import RedisGuard
from gateway.timetable import timetable_store
from gateway.urlguard import PublicResolver, public_only_trace
from gateway.webhooks import webhooks_context
from operators.resilience import Policy
from sales import idempotency
from sales.adapters import Adapters
from sales.bookings import expire_due
from sales.fares import FaresCache
from sales.legs import Sales
from sales.offers import purge_expired_offers
from sales.settle import recover_due
from sales.signing import check_active_keys, ensure_every_signing_key

log = logging.getLogger(__name__)


async def embedded_servers(app: web.Application) -> AsyncIterator[None]:
    """Start embedded PostgreSQL and Redis for whichever URL is not configured."""
    settings = app[settings_key]
    redis_server = None
    if settings.database_url:
        app[database_url_key] = settings.database_url
    else:
        app[database_url_key] = await asyncio.to_thread(embedded.start_postgres, settings.data_dir)
    if settings.redis_url:
        app[redis_url_key] = settings.redis_url
    else:
        redis_server = await asyncio.to_thread(embedded.start_redis, settings.data_dir)
        app[redis_url_key] = redis_server.url
    yield
    if redis_server is not None:
        await asyncio.to_thread(redis_server.stop)


async def keep_session(conn: asyncpg.Connection) -> None:
    """Give a connection back to the pool as it is (asyncpg still rolls back an open transaction).

    The default reset (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) costs
    a round trip per acquire, and there is nothing for it to undo: pooled connections never
    LISTEN (listeners have connections of their own), never SET beyond `SET LOCAL`, hold
    advisory locks only for a transaction (migrations unlock theirs) and keep no cursors.
    """


#: How long stopping waits for connections still in use before closing them anyway.
POOL_CLOSE_S = 10.0


async def postgres(app: web.Application) -> AsyncIterator[None]:
    """Open the PostgreSQL pool and bring the schema up to date."""
    settings = app[settings_key]
    pool = await asyncpg.create_pool(
        app[database_url_key],
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        init=init_connection,
        reset=keep_session,
        command_timeout=60,
    )
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        app[db_key] = pool
        yield
    finally:
        # close() waits for every acquired connection; a task stuck holding one must not
        # keep the process from stopping.
        try:
            await asyncio.wait_for(pool.close(), POOL_CLOSE_S)
        except TimeoutError:
            log.warning("PostgreSQL connections still held %.0f s after stopping", POOL_CLOSE_S)
            pool.terminate()


async def postgres_answers(pool: asyncpg.Pool) -> None:
    """Run a trivial query: raises when PostgreSQL does not answer."""
    await pool.fetchval("SELECT 1")


async def redis_client(app: web.Application) -> AsyncIterator[None]:
    """Connect to Redis lazily: a Redis that is down at start-up only degrades the gateway."""
    settings = app[settings_key]
    client = aioredis.Redis.from_url(
        app[redis_url_key],
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=30,
    )
    guard = RedisGuard(client, settings.redis_prefix, settings.redis_timeout_s)
    app[redis_key] = guard
    app[local_counts_key] = LocalCounts()
    if not await guard.ping():
        log.warning("redis is not answering at start-up; serving without it")
    yield
    await client.aclose()


async def http_client(app: web.Application) -> AsyncIterator[None]:
    """Open the outgoing HTTP sessions: adapters' and the public-only one for polling.

    Operators' back-ends are configured by an admin and may be private; the realtime
    feeds an operator configures are fetched from public addresses only.
    """
    timeout = aiohttp.ClientTimeout(total=30, connect=5)
    headers = {"User-Agent": "maas-gateway"}
    private = app[settings_key].allow_private_urls
    public = None if private else PublicResolver()
    async with (
        aiohttp.ClientSession(timeout=timeout, headers=headers) as session,
        aiohttp.ClientSession(
            timeout=timeout,
            headers=headers,
            connector=aiohttp.TCPConnector(resolver=public),
            trace_configs=[] if private else [public_only_trace()],
        ) as public_session,
    ):
        app[http_key] = session
        app[public_http_key] = public_session
        yield


async def _every(interval_s: float, job: Callable[[], Awaitable[None]], what: str) -> None:
    """Run `job` every `interval_s`; it must outlive a failed round (database restarting, ...)."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s round failed", what)
        raise_if_cancelling()
        await asyncio.sleep(interval_s)


async def _expire_round(sales: Sales) -> None:
    """Expire PENDING bookings past their hold, and purge old idempotency keys and offers."""
    expired = await expire_due(sales)
    if expired:
        log.info("expired pending bookings", extra={"count": expired})
    await idempotency.purge_old(sales.pool)
    await purge_expired_offers(sales.pool)


async def _recovery_round(sales: Sales) -> None:
    """Finish what a crash or a down operator left owed.

    Every process runs it, in a loop of its own so it never delays expiry: bookings are
    taken with `FOR UPDATE SKIP LOCKED` and a lease, so two processes never work on one.
    """
    recovered = await recover_due(sales)
    if recovered:
        log.info("settled interrupted bookings", extra={"count": recovered})


def booking_lease(policy: Policy) -> timedelta:
    """Return how long one round of calls to an operator may take, with a margin."""
    per_call_s = policy.timeout_s + policy.backoff_s * 2**policy.attempts
    return timedelta(seconds=policy.attempts * per_call_s * 1.5 + 1)


async def signing_keys_context(app: web.Application) -> AsyncIterator[None]:
    """Open every signing key and back-end token now, so a wrong secret stops start-up.

    An operator onboarded before keys came with onboarding gets its key here, before
    it can sell.
    """
    secret = app[settings_key].signing_secret
    plain = await check_active_keys(app[db_key], secret)
    plain_tokens = await check_tomp_tokens(app[db_key], secret)
    if made := await ensure_every_signing_key(app[db_key], secret):
        log.warning("operators had no signing key and got one", extra={"operators": made})
    if secret is None:
        log.warning("MAAS_SIGNING_KEY_SECRET is not set: ticket-signing keys are stored in clear")
    elif plain:
        log.warning("signing keys in clear: run `maas signing-keys seal`", extra={"count": plain})
    if secret is not None and plain_tokens:
        log.warning("operators' back-end tokens stored in clear", extra={"count": plain_tokens})
    yield


async def sales_context(app: web.Application) -> AsyncIterator[None]:
    """Build the adapters and start the job that expires and recovers bookings."""
    settings = app[settings_key]
    policy = Policy(
        timeout_s=settings.operator_timeout_s,
        attempts=settings.operator_attempts,
        concurrency=settings.operator_concurrency,
    )
    adapters = Adapters(app[http_key], settings.maas_id, policy, settings.signing_secret)
    sales = Sales(
        app[db_key],
        adapters,
        timedelta(seconds=settings.booking_hold_s),
        settings.signing_secret,
        settings.base_url,
        cache=app[cache_key],
        lease=(
            timedelta(seconds=settings.booking_lease_s)
            if settings.booking_lease_s
            else booking_lease(policy)
        ),
    )
    app[sales_key] = sales
    app[fares_key] = FaresCache(app[cache_key])
    jobs = [
        asyncio.create_task(
            _every(settings.expiry_interval_s, lambda: _expire_round(sales), "booking expiry")
        ),
        asyncio.create_task(
            _every(settings.expiry_interval_s, lambda: _recovery_round(sales), "booking recovery")
        ),
    ]
    yield
    await stop(*jobs)


CLEANUP_CONTEXTS = (
    embedded_servers,
    postgres,
    cache_context,
    signing_keys_context,
    timetable_store,
    redis_client,
    http_client,
    sales_context,
    realtime_context,
    flows_context,
    webhooks_context,
)
