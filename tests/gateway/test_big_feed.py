"""A big feed is published off the event loop, with progress, and /health answers meanwhile
(issue 14, defect 5). The feed is synthetic; `bench/big_feed.py` measures the latency."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.appkeys import timetable_key
from tests.conftest import bearer
from tests.timetable_data import synthetic_feed

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]
TRIPS, STOPS = 8_000, 50  # 400,000 stop_times


class _Counted(logging.Handler):
    """Keeps, for each progress line of the store, how many /health answers came before it."""

    def __init__(self, answers: list[int]) -> None:
        super().__init__()
        self.answers = answers
        self.seen: list[tuple[str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), len(self.answers)))


async def test_health_answers_while_a_big_feed_is_stored_and_compiled(
    client: Client, make_key: MakeKey, tmp_path: Path
) -> None:
    admin = await make_key("admin")
    resp = await client.post(
        "/v1/operators", json={"id": "big", "name": "Big"}, headers=bearer(admin)
    )
    assert resp.status == 201, await resp.text()
    feed = await asyncio.to_thread(synthetic_feed, tmp_path / "big.zip", TRIPS, STOPS)
    answers: list[int] = []
    handler = _Counted(answers)
    logger = logging.getLogger("gateway.feeds")
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    store = client.app[timetable_key]
    try:
        upload = asyncio.create_task(
            client.put(
                "/v1/operators/big/feed",
                data=io.BytesIO(feed.read_bytes()),
                headers=bearer(admin) | {"Content-Type": "application/zip"},
            )
        )
        while not upload.done():
            answers.append((await client.get("/health")).status)
        resp = upload.result()
        assert resp.status == 201, await resp.text()
        version = (await resp.json())["version_id"]
        published = len(answers)
        # Reading the feed back and compiling it: /health still answers until it is swapped in.
        while (current := store.find()) is None or version not in current.version_ids:
            answers.append((await client.get("/health")).status)
            await asyncio.sleep(0)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
    assert set(answers) == {200}
    stored = [(m, n) for m, n in handler.seen if m.startswith("storing feed: stop_times")]
    assert [m for m, _ in stored][
        -1
    ] == f"storing feed: stop_times {TRIPS * STOPS} of {TRIPS * STOPS} rows"
    assert len(stored) >= 5  # a line every tenth of the table (at most one a chunk)
    # /health answered while stop_times was being stored, between its first and last line,
    assert stored[-1][1] - stored[0][1] >= 3, stored
    # and while the timetable was read back and compiled.
    assert len(answers) - published >= 3, (published, len(answers))
