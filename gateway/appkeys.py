"""Typed keys of every shared object on the application: handlers read these, never globals.

The types of the gateway's own services are imported for type checking only, so
that the modules defining them can import their keys from here without a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import asyncpg
from aiohttp import web

from flows.config import FlowsConfig
from gateway.metrics import Metrics
from gateway.redisguard import RedisGuard
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.listener import Listener
    from gateway.ratelimit import LocalCounts
    from gateway.realtime.service import Realtime
    from gateway.timetable import TimetableStore
    from sales.cache import Cache
    from sales.fares import FaresCache
    from sales.legs import Sales

settings_key = web.AppKey("settings", Settings)
db_key = web.AppKey("db", asyncpg.Pool)
redis_key = web.AppKey("redis", RedisGuard)
#: Rate-limit counts of this process alone, used while Redis cannot count.
local_counts_key: web.AppKey[LocalCounts] = web.AppKey("local_counts")
http_key = web.AppKey("http", aiohttp.ClientSession)
#: For URLs operators configure (realtime feeds): connects to public addresses only.
public_http_key = web.AppKey("public_http", aiohttp.ClientSession)
metrics_key = web.AppKey("metrics", Metrics)
database_url_key = web.AppKey("database_url", str)
redis_url_key = web.AppKey("redis_url", str)
#: What `maas serve --demo` prints once it listens: the demo keys and a walkthrough.
demo_banner_key = web.AppKey("demo_banner", str)
timetable_key: web.AppKey[TimetableStore] = web.AppKey("timetable")
realtime_key: web.AppKey[Realtime] = web.AppKey("realtime")
sales_key: web.AppKey[Sales] = web.AppKey("sales")
fares_key: web.AppKey[FaresCache] = web.AppKey("fares")
#: Rows that rarely change (keys, operators, fares, signing keys), dropped on `maas_cache`.
cache_key: web.AppKey[Cache] = web.AppKey("cache")
flows_key = web.AppKey("flows", FlowsConfig)
#: The webhook dispatcher's LISTEN connection (wakes it when a delivery is queued).
webhook_listener_key: web.AppKey[Listener] = web.AppKey("webhook_listener")
