"""Probes, metrics, the OpenAPI document and its offline docs page."""

from __future__ import annotations

import asyncio
import functools
from importlib.metadata import version

import orjson
from aiohttp import web
from pydantic import BaseModel, Field

from gateway.api import api, json_response
from gateway.appkeys import db_key, metrics_key, redis_key, timetable_key
from gateway.openapi import build_openapi
from gateway.resources import postgres_answers


class Health(BaseModel):
    """The process is alive."""

    status: str = Field(description="`ok` while the process runs")


class Ready(BaseModel):
    """Whether each dependency answers; `degraded` means serving without Redis or timetable."""

    status: str = Field(
        description=(
            "`ok`; `degraded` when serving without Redis or a timetable; `down` without PostgreSQL"
        )
    )
    postgres: str = Field(description="`ok` or `down`")
    redis: str = Field(description="`ok`, or `degraded` (the gateway keeps selling without it)")
    timetable: str = Field(
        description="`ok`, `loading` before the first build, `failed` when the last build failed"
    )


@api.route("GET", "/health", summary="The process is alive", tag="system", response=Health)
async def health(request: web.Request) -> Health:
    """Answer 200 while the process runs."""
    return Health(status="ok")


@api.route(
    "GET",
    "/ready",
    summary="Dependencies answer",
    tag="system",
    response=Ready,
    also=((503, "PostgreSQL does not answer: `status` is `down`"),),
)
async def ready(request: web.Request) -> web.Response:
    """Answer 200 when PostgreSQL answers (Redis only degrades), else 503."""
    try:
        async with asyncio.timeout(2):
            await postgres_answers(request.app[db_key])
        postgres = "ok"
    except (OSError, TimeoutError, Exception):
        postgres = "down"
    redis = "ok" if await request.app[redis_key].ping() else "degraded"
    timetable = request.app[timetable_key].status()
    status = "ok" if postgres == redis == timetable == "ok" else "degraded"
    if postgres != "ok":
        status = "down"
    body = Ready(status=status, postgres=postgres, redis=redis, timetable=timetable)
    return json_response(body, status=200 if postgres == "ok" else 503)


@api.route(
    "GET",
    "/metrics",
    summary="Prometheus metrics",
    tag="system",
    media_types=("text/plain",),
)
async def metrics(request: web.Request) -> web.Response:
    """Expose request counts and latency histograms in Prometheus text format."""
    body = request.app[metrics_key].render()
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


@api.route("GET", "/openapi.json", summary="This document", tag="system")
async def openapi(request: web.Request) -> web.Response:
    """Serve the OpenAPI 3.1 document generated from the endpoints' models."""
    return web.Response(body=_openapi_document(), content_type="application/json")


@functools.cache
def _openapi_document() -> bytes:
    """Build the document once: the endpoints are all declared before the first request."""
    return orjson.dumps(build_openapi(api, version("maas-gateway")))


_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MaaS Gateway API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>
// validatorUrl null: the default badge would send the document to swagger.io.
SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui", deepLinking: true, validatorUrl: null});
</script>
</body></html>
"""


@api.route(
    "GET", "/docs", summary="Readable API documentation", tag="system", media_types=("text/html",)
)
async def docs(request: web.Request) -> web.Response:
    """Serve Swagger UI 5 from the gateway's own assets, so it works offline."""
    return web.Response(text=_DOCS_PAGE, content_type="text/html")
