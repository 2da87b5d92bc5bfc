"""Typed keys of every shared object on the application: handlers read these, never globals."""

from __future__ import annotations

import aiohttp
import asyncpg
from aiohttp import web

from gateway.metrics import Metrics
from gateway.redisguard import RedisGuard
from gateway.settings import Settings

settings_key = web.AppKey("settings", Settings)
db_key = web.AppKey("db", asyncpg.Pool)
redis_key = web.AppKey("redis", RedisGuard)
http_key = web.AppKey("http", aiohttp.ClientSession)
#: For URLs operators configure (realtime feeds): connects to public addresses only.
public_http_key = web.AppKey("public_http", aiohttp.ClientSession)
metrics_key = web.AppKey("metrics", Metrics)
database_url_key = web.AppKey("database_url", str)
redis_url_key = web.AppKey("redis_url", str)
