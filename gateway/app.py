"""`create_app(settings)`: the one place where the gateway is wired together."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from gateway import handlers
from gateway.api import api
from gateway.appkeys import metrics_key, settings_key
from gateway.demo import run as demo
from gateway.metrics import Metrics
from gateway.middlewares import MIDDLEWARES
from gateway.resources import CLEANUP_CONTEXTS
from gateway.settings import Settings


def create_app(settings: Settings) -> web.Application:
    """Build the application: settings, resources, middlewares and routes."""
    handlers.load()
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=settings.max_body_bytes)
    app[settings_key] = settings
    app[metrics_key] = Metrics()
    app.cleanup_ctx.extend(CLEANUP_CONTEXTS)
    if settings.demo:
        app.on_startup.append(demo.on_startup)
    api.mount(app)
    static = Path(__file__).parent / "static"
    app.router.add_static("/docs/static", static / "swagger-ui")
    app.router.add_static("/map/static/leaflet", static / "leaflet")
    return app
