"""An uploaded feed is validated and stored by a child process (issue 14, defect 5).

Reading a feed with pandas holds the GIL for seconds on millions of stop times; in a
thread of the serving process that stalled every request. The child's progress lines
still come out of the gateway's log, with the request's id.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import subprocess
import sys
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import gateway.feeds
from gtfs.snapshot.child import PRELOAD, peak_rss_kib
from tests.conftest import bearer
from tests.timetable_data import synthetic_feed

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]


async def _operator(client: Client, admin: str, operator_id: str) -> None:
    resp = await client.post(
        "/v1/operators", json={"id": operator_id, "name": operator_id}, headers=bearer(admin)
    )
    assert resp.status == 201, await resp.text()


def _not_here(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("the serving process read the feed itself")


async def test_a_feed_is_read_and_stored_by_a_child_that_logs_through_the_gateway(
    client: Client,
    make_key: MakeKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(gateway.feeds, "prepare_feed", _not_here)
    caplog.set_level(logging.INFO, logger="gateway.feeds")
    admin = await make_key("admin")
    await _operator(client, admin, "pubchild")
    feed = await asyncio.to_thread(synthetic_feed, tmp_path / "feed.zip", 4, 5)
    resp = await client.put(
        "/v1/operators/pubchild/feed",
        data=io.BytesIO(feed.read_bytes()),
        headers=bearer(admin) | {"Content-Type": "application/zip"},
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["counts"]["trips"] == 4
    assert body["counts"]["stop_times"] == 4 * 5
    steps = [r for r in caplog.records if r.getMessage().startswith("publishing feed: ")]
    assert [r.getMessage() for r in steps][-1] == "publishing feed: store"
    assert {r.process for r in steps} != {os.getpid()}
    assert {getattr(r, "request_id", None) for r in steps} == {resp.headers["X-Request-Id"]}
    stored = [r for r in caplog.records if r.getMessage().startswith("storing feed: stop_times")]
    assert stored[-1].getMessage() == "storing feed: stop_times 20 of 20 rows"


async def test_a_broken_feed_from_the_child_is_422_naming_file_and_row(
    client: Client, make_key: MakeKey, tmp_path: Path
) -> None:
    # The child's FeedInvalid crosses the process boundary with every issue it lists.
    admin = await make_key("admin")
    await _operator(client, admin, "pubbroken")
    feed = await asyncio.to_thread(synthetic_feed, tmp_path / "feed.zip", 2, 3)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(feed) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "stop_times.txt":
                lines = data.decode().splitlines()
                lines[2] = lines[2].replace(":00,", ":xx,", 1)
                data = ("\n".join(lines) + "\n").encode()
            dst.writestr(item, data)
    resp = await client.put(
        "/v1/operators/pubbroken/feed",
        data=io.BytesIO(broken.read_bytes()),
        headers=bearer(admin) | {"Content-Type": "application/zip"},
    )
    assert resp.status == 422, await resp.text()
    problem = await resp.json(content_type=None)
    assert problem["code"] == "feed_invalid"
    assert any(e["file"] == "stop_times.txt" and e["row"] == 3 for e in problem["errors"]), problem


async def test_the_publishing_child_says_its_peak_memory(
    client: Client, make_key: MakeKey, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.feeds")
    admin = await make_key("admin")
    await _operator(client, admin, "pubpeak")
    feed = await asyncio.to_thread(synthetic_feed, tmp_path / "feed.zip", 3, 4)
    resp = await client.put(
        "/v1/operators/pubpeak/feed",
        data=io.BytesIO(feed.read_bytes()),
        headers=bearer(admin) | {"Content-Type": "application/zip"},
    )
    assert resp.status == 201, await resp.text()
    done = [r for r in caplog.records if r.getMessage() == "feed published in a child process"]
    assert len(done) == 1
    # Its own peak, a fresh process's: more than pandas alone, less than this test process.
    assert 50_000 < getattr(done[0], "peak_rss_kib", 0) < peak_rss_kib()


async def test_a_publishing_child_loads_no_pyarrow_nor_the_serving_gateway(
    db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    # What the child runs (the forkserver's preload, then the job), in a fresh process:
    # pyarrow is about 34 MiB and the serving gateway about 30 MiB (issue 17).
    await db.execute("INSERT INTO operators (id, name) VALUES ('pubnoarrow', 'P')")
    feed = await asyncio.to_thread(synthetic_feed, tmp_path / "feed.zip", 2, 3)
    heavy = ("pyarrow", "gateway.resources", "gateway.app", "aiohttp.web")
    code = (
        f"import sys; from pathlib import Path; [__import__(m) for m in {PRELOAD!r}];"
        " import gateway.feeds as f;"
        f" p = f._publish_child({database_url!r}, Path({str(feed)!r}), 'pubnoarrow', None, None);"
        f" print(p.counts['stop_times'], [m for m in {heavy!r} if m in sys.modules])"
    )
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == "6 []", done.stderr
