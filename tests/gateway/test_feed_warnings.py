"""Feed warnings that depend on today: an ended calendar, no service in the coming week;
and each version's service period, at upload and on `GET /v1/operators/{id}/feed`."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.demo.shift import shift_service_dates
from tests.conftest import bearer
from tests.timetable_data import gtfs_path

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]
ZIP = {"Content-Type": "application/zip"}
HSL_START, HSL_END = dt.date(2019, 3, 5), dt.date(2019, 4, 18)  # hsl-minimal's calendar.txt


async def _publish(client: Client, admin: str, operator_id: str, feed: Path) -> dict[str, Any]:
    created = await client.post(
        "/v1/operators", json={"id": operator_id, "name": operator_id}, headers=bearer(admin)
    )
    assert created.status == 201
    resp = await client.put(
        f"/v1/operators/{operator_id}/feed",
        data=await asyncio.to_thread(feed.read_bytes),
        headers=ZIP | bearer(admin),
    )
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/Helsinki")).date()


async def test_an_ended_calendar_warns_at_upload_and_on_the_feed(
    client: Client, make_key: MakeKey, shared_data: Path
) -> None:
    admin = await make_key("admin")
    hsl = gtfs_path(shared_data, "hsl-minimal.zip")
    published = await _publish(client, admin, "warn-ended", hsl)
    assert (published["service_start"], published["service_end"]) == ("2019-03-05", "2019-04-18")
    first = published["warnings"][0]
    assert first["file"] == "calendar.txt"
    assert "the service ended on 2019-04-18" in first["message"]
    assert published["warning_total"] >= 1
    versions = (await (await client.get("/v1/operators/warn-ended/feed")).json())["items"]
    assert versions[0]["service_start"] == "2019-03-05"
    assert versions[0]["service_end"] == "2019-04-18"
    assert versions[0]["warnings"][0] == first


async def test_a_service_that_starts_after_next_week_warns(
    client: Client, make_key: MakeKey, shared_data: Path, tmp_path: Path
) -> None:
    weeks = (_today() - HSL_START).days // 7 + 3  # starts two to three weeks from now
    feed = shift_service_dates(
        gtfs_path(shared_data, "hsl-minimal.zip"), tmp_path / "later.zip", weeks
    )
    published = await _publish(client, await make_key("admin"), "warn-later", feed)
    start = HSL_START + dt.timedelta(weeks=weeks)
    assert published["service_start"] == start.isoformat()
    message = published["warnings"][0]["message"]
    assert "no trip runs in the next 7 days" in message
    assert f"the next service day is {start.isoformat()}" in message


async def test_a_feed_running_this_week_has_no_date_warning(
    client: Client, make_key: MakeKey, shared_data: Path, tmp_path: Path
) -> None:
    weeks = (_today() - HSL_START).days // 7  # the first week of service is this one
    feed = shift_service_dates(
        gtfs_path(shared_data, "hsl-minimal.zip"), tmp_path / "now.zip", weeks
    )
    published = await _publish(client, await make_key("admin"), "warn-none", feed)
    assert all(w["file"] != "calendar.txt" for w in published["warnings"])
    assert published["service_end"] == (HSL_END + dt.timedelta(weeks=weeks)).isoformat()


async def test_the_migration_fills_the_service_period_of_stored_versions(
    client: Client, make_key: MakeKey, shared_data: Path, db: asyncpg.Pool
) -> None:
    published = await _publish(
        client, await make_key("admin"), "warn-backfill", gtfs_path(shared_data, "hsl-minimal.zip")
    )
    version_id = published["version_id"]
    computed = await db.fetchval(
        "SELECT service_dates FROM feed_versions WHERE id = $1", version_id
    )
    await db.execute("UPDATE feed_versions SET service_dates = NULL WHERE id = $1", version_id)
    sql = (
        resources.files("gateway.migrations")
        .joinpath("060_service_dates_and_places.sql")
        .read_text()
    )
    await db.execute(sql[sql.index("UPDATE feed_versions") : sql.index("ALTER TABLE operators")])
    filled = await db.fetchval("SELECT service_dates FROM feed_versions WHERE id = $1", version_id)
    assert filled == computed
    assert (filled[0], filled[-1]) == (HSL_START, HSL_END)
