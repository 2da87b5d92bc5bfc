import asyncio
import logging

import aiohttp
import orjson
from aiohttp import web

from gateway.access_log import AccessLogger
from gateway.app import create_app
from gateway.logs import JsonFormatter, request_id_var
from gateway.settings import Settings


async def test_in_flight_requests_finish_on_shutdown(
    settings: Settings, unused_tcp_port: int
) -> None:
    started = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(0.5)
        return web.Response(text="finished")

    app = create_app(settings)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, shutdown_timeout=5, access_log_class=AccessLogger)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    async with aiohttp.ClientSession() as session:
        pending = asyncio.create_task(session.get(f"http://127.0.0.1:{unused_tcp_port}/slow"))
        await started.wait()
        await runner.cleanup()  # what run_app does on SIGTERM
        resp = await pending
        assert resp.status == 200
        assert await resp.text() == "finished"


def test_log_lines_are_json_with_the_request_id() -> None:
    record = logging.makeLogRecord(
        {"name": "gateway.test", "levelname": "INFO", "msg": "booked %s", "args": ("bk-1",)}
    )
    record.__dict__["operator_id"] = "kuopion-liikenne"
    token = request_id_var.set("req-42")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    doc = orjson.loads(line)
    assert doc["message"] == "booked bk-1"
    assert doc["request_id"] == "req-42"
    assert doc["operator_id"] == "kuopion-liikenne"
    assert doc["level"] == "INFO"
