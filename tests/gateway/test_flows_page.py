"""The planner's flow map in headless Chromium: zone outlines, flow lines, suppressed cells."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from tests.conftest import bearer
from tests.flows.support import at, crowd, places_by_zone, record_all, unique_period
from tests.gateway.browser import dump_dom, find_chromium, screenshot
from tests.gateway.png import png_pixels

Client = TestClient[Any, Any]
FLOW_RED = (192, 57, 43)


def _near(pixel: tuple[int, int, int], colour: tuple[int, int, int], within: int = 50) -> bool:
    return all(abs(p - c) <= within for p, c in zip(pixel, colour, strict=True))


async def _release(client: Client, db: asyncpg.Pool, planner: str) -> str:
    places = await places_by_zone(db)
    period = unique_period()
    await record_all(db, crowd("m1", 30, places["A"], places["B"], at(period, 2, 8)))
    await record_all(db, crowd("m2", 12, places["B"], places["C"], at(period, 2, 8)))
    await record_all(db, crowd("m3", 3, places["C"], places["D"], at(period, 2, 8)))
    body = {"period": period, "zone_system": "fare-zones", "bucket": "part_of_day"}
    resp = await client.post("/v1/flows/releases", json=body, headers=bearer(planner))
    assert resp.status == 201, await resp.text()
    release_id: str = (await resp.json())["id"]
    return release_id


async def test_the_flow_map_draws_zones_flows_and_marks_suppressed_cells(
    client: Client, db: asyncpg.Pool, kuopio_demo: str, make_key: Any, tmp_path: Path
) -> None:
    chromium = find_chromium()
    planner = await make_key("planner")
    release = await _release(client, db, planner)
    url = str(client.make_url("/map/flows")) + f"#key={planner}&release={release}&bucket=morning"

    dom = await dump_dom(chromium, url)
    assert 'data-ready="true"' in dom
    assert "2 flows drawn" in dom
    assert "drawn dashed" in dom  # the three C->D trips are a suppressed, dashed line
    assert "Synthetic demo data" in dom  # the banner exists; hidden for travelled trips
    assert 'id="synthetic" style="display: none;"' in dom

    shot = await screenshot(chromium, url, tmp_path / "flows.png")
    width, height, pixels = png_pixels(await asyncio.to_thread(shot.read_bytes))
    assert (width, height) == (1280, 900)
    red = sum(_near(p, FLOW_RED) for p in pixels)
    assert red > 150, f"only {red} pixels of flow lines"
    blank = sum(p == pixels[0] for p in pixels) / len(pixels)
    assert blank < 0.97


async def test_the_flow_map_asks_for_a_key_and_works_offline(client: Client) -> None:
    resp = await client.get("/map/flows")
    assert resp.status == 200
    page = await resp.text()
    assert "/map/static/leaflet/leaflet.js" in page
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert "https://" not in page
