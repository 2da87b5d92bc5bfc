"""The pages people open render in a real browser (headless Chromium): /, /docs and /map."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway import handlers
from gateway.api import api, openapi_path
from gateway.appkeys import timetable_key
from gateway.demo.kuopio import KUOPIO_OPERATORS
from tests.gateway.browser import dump_dom, find_chromium, screenshot

Client = TestClient[web.Request, web.Application]
KUOPIO = {op.operator_id for op in KUOPIO_OPERATORS}


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


@pytest.fixture
async def kuopio(kuopio_demo: str, client: Client) -> Client:
    await client.app[timetable_key].wait_for(
        lambda t: set(t.snapshot.stops.operator_ids) >= KUOPIO, timeout_s=60
    )
    return client


def _url(client: Client, path: str) -> str:
    return str(client.make_url(path))


async def test_docs_renders_every_operation(chromium: str, client: Client, tmp_path: Path) -> None:
    dom = await dump_dom(chromium, _url(client, "/docs"))
    assert "Unable to render this definition" not in dom
    rendered = set(re.findall(r'data-path="([^"]+)"', dom))
    handlers.load()
    assert {openapi_path(e.path) for e in api.endpoints} <= rendered
    assert "opblock-summary-method" in dom
    await screenshot(chromium, _url(client, "/docs"), tmp_path / "docs.png")


async def test_the_front_page_links_docs_map_and_open_data(chromium: str, client: Client) -> None:
    dom = await dump_dom(chromium, _url(client, "/"), budget_ms=2000)
    links = set(re.findall(r'href="([^"]+)"', dom))
    wanted = {"/docs", "/map", "/openapi.json", "/v1/stops", "/v1/gtfs/merged.zip"}
    assert wanted | {"/v1/network.geojson", "/v1/gtfs-rt/vehicle-positions.pb"} <= links
    for link in sorted(links):
        resp = await client.get(link)
        assert resp.status in (200, 503), link  # 503: the timetable may still be loading


async def test_map_draws_the_network(chromium: str, kuopio: Client, tmp_path: Path) -> None:
    dom = await dump_dom(chromium, _url(kuopio, "/map"))
    # Leaflet draws paths on a canvas (preferCanvas): it is there once a line is added.
    assert re.search(r'leaflet-overlay-pane"><canvas', dom)
    status = re.search(r'<div id="status" class="hint">(\d+) stops; service', dom)
    assert status, dom[:2000]
    assert int(status[1]) > 100
    await screenshot(chromium, _url(kuopio, "/map"), tmp_path / "map.png")


def test_without_chromium_ci_fails_and_a_local_run_skips(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to find
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        find_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        find_chromium()
