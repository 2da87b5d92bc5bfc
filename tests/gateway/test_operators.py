"""Operators: onboarding by admin, the open list, and publishing a feed (auth, errors, limits)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.appkeys import timetable_key
from gateway.settings import Settings
from tests.conftest import bearer
from tests.timetable_data import gtfs_path, rewrite_zip

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]
ZIP = {"Content-Type": "application/zip"}


async def _create(client: Client, admin: str, operator_id: str) -> dict[str, Any]:
    resp = await client.post(
        "/v1/operators",
        json={"id": operator_id, "name": f"Operator {operator_id}"},
        headers=bearer(admin),
    )
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


@pytest.fixture
def hsl(shared_data: Path) -> bytes:
    return gtfs_path(shared_data, "hsl-minimal.zip").read_bytes()


async def test_admin_creates_an_operator_anyone_reads_it(client: Client, make_key: MakeKey) -> None:
    admin = await make_key("admin")
    created = await _create(client, admin, "ops-create")
    assert created["sales_channel"] == "hosted"
    assert created["timezone"] == "Europe/Helsinki"
    resp = await client.get("/v1/operators/ops-create")
    assert resp.status == 200
    assert (await resp.json())["name"] == "Operator ops-create"
    again = await client.post(
        "/v1/operators", json={"id": "ops-create", "name": "Again"}, headers=bearer(admin)
    )
    assert again.status == 409


async def test_only_admin_creates_operators(client: Client, make_key: MakeKey) -> None:
    maas = await make_key("maas", tenant_id="some-app")
    resp = await client.post(
        "/v1/operators", json={"id": "ops-nope", "name": "N"}, headers=bearer(maas)
    )
    assert resp.status == 403


@pytest.mark.parametrize(
    "body",
    [
        {"id": "Bad Id", "name": "x"},
        {"id": "ops-extra", "name": "x", "is_admin": True},
        {"id": "ops-tz", "name": "x", "timezone": "Mars/Olympus"},
    ],
)
async def test_operator_create_rejects_bad_bodies(
    client: Client, make_key: MakeKey, body: dict[str, Any]
) -> None:
    resp = await client.post("/v1/operators", json=body, headers=bearer(await make_key("admin")))
    assert resp.status == 422
    assert (await resp.json())["code"] == "validation_failed"


async def test_operator_list_pages_with_a_cursor(client: Client, make_key: MakeKey) -> None:
    admin = await make_key("admin")
    for n in range(3):
        await _create(client, admin, f"ops-page-{n}")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        body = await (await client.get("/v1/operators", params=params)).json()
        seen += [o["id"] for o in body["items"]]
        cursor = body.get("next_cursor")
        if not cursor:
            break
    assert {"ops-page-0", "ops-page-1", "ops-page-2"} <= set(seen)
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen))
    bad = await client.get("/v1/operators", params={"cursor": "garbage!"})
    assert bad.status == 400


async def test_unknown_operator_is_404(client: Client) -> None:
    resp = await client.get("/v1/operators/no-such-operator")
    assert resp.status == 404
    assert (await resp.json())["code"] == "not_found"


async def test_feed_upload_auth(client: Client, make_key: MakeKey, hsl: bytes) -> None:
    admin = await make_key("admin")
    await _create(client, admin, "ops-auth-a")
    await _create(client, admin, "ops-auth-b")
    url = "/v1/operators/ops-auth-a/feed"
    assert (await client.put(url, data=hsl, headers=ZIP)).status == 401
    maas = await make_key("maas", tenant_id="app-x")
    assert (await client.put(url, data=hsl, headers=ZIP | bearer(maas))).status == 403
    other = await make_key("operator", operator_id="ops-auth-b")
    forbidden = await client.put(url, data=hsl, headers=ZIP | bearer(other))
    assert forbidden.status == 403
    own = await make_key("operator", operator_id="ops-auth-a")
    published = await client.put(url, data=hsl, headers=ZIP | bearer(own))
    assert published.status == 201, await published.text()
    assert published.headers["Location"] == url
    body = await published.json()
    assert body["changed"]
    assert body["counts"]["stop_times"] == 15
    by_admin = await client.put(url, data=hsl, headers=ZIP | bearer(admin))
    assert by_admin.status == 200
    assert "Location" not in by_admin.headers
    assert (await by_admin.json())["changed"] is False


async def test_broken_feed_is_one_422_and_the_previous_feed_keeps_serving(
    client: Client, make_key: MakeKey, hsl: bytes, shared_data: Path, tmp_path: Path
) -> None:
    admin = await make_key("admin")
    await _create(client, admin, "ops-broken")
    url = "/v1/operators/ops-broken/feed"
    good = await (await client.put(url, data=hsl, headers=ZIP | bearer(admin))).json()
    broken = rewrite_zip(
        gtfs_path(shared_data, "hsl-minimal.zip"),
        tmp_path / "broken.zip",
        {"stop_times.txt": lambda t: t.replace("05:45:00,2,2", "05:45:00,999,2")},
    )
    resp = await client.put(url, data=broken.read_bytes(), headers=ZIP | bearer(admin))
    assert resp.status == 422
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    problem = await resp.json()
    assert problem["code"] == "feed_invalid"
    assert problem["total"] == 1
    assert problem["errors"] == [
        {
            "file": "stop_times.txt",
            "row": 3,
            "field": "stop_id",
            "message": "'999' is not a stop_id of stops.txt",
        }
    ]
    versions = await (await client.get(url)).json()
    assert [(v["id"], v["is_current"]) for v in versions["items"]] == [(good["version_id"], True)]
    not_zip = await client.put(url, data=b"hello", headers=ZIP | bearer(admin))
    assert (await not_zip.json())["errors"][0]["message"] == "the upload is not a zip archive"
    timetable = await client.app[timetable_key].wait_for(
        lambda t: good["version_id"] in t.version_ids, timeout_s=30
    )
    assert "ops-broken:1" in timetable.snapshot.stops.index


async def test_upload_over_the_limit_is_413(
    aiohttp_client: Callable[..., Awaitable[Client]],
    settings: Settings,
    make_key: MakeKey,
    hsl: bytes,
) -> None:
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"max_upload_bytes": 2048}))
    )
    admin = await make_key("admin")
    await _create(client, admin, "ops-large")
    resp = await client.put("/v1/operators/ops-large/feed", data=hsl, headers=ZIP | bearer(admin))
    assert resp.status == 413
    assert (await resp.json())["code"] == "payload_too_large"


async def test_feed_versions_keep_warnings(client: Client, make_key: MakeKey, hsl: bytes) -> None:
    admin = await make_key("admin")
    await _create(client, admin, "ops-warn")
    await client.put("/v1/operators/ops-warn/feed", data=hsl, headers=ZIP | bearer(admin))
    versions = await (await client.get("/v1/operators/ops-warn/feed")).json()
    (current,) = versions["items"]
    # The upload's own warning, after the one of today: the 2019 calendar has ended.
    assert current["warning_total"] == 2
    assert [w["file"] for w in current["warnings"]] == ["calendar.txt", "feed_info.txt"]
    assert current["counts"]["stops"] == 10


async def test_another_gateway_process_rebuilds_when_told(
    aiohttp_client: Callable[..., Awaitable[Client]],
    settings: Settings,
    make_key: MakeKey,
    hsl: bytes,
) -> None:
    first = await aiohttp_client(create_app(settings))
    second = await aiohttp_client(create_app(settings))
    store = second.app[timetable_key]
    store.poll_s = 3600  # only PostgreSQL NOTIFY can tell the second gateway in time
    await store.wait_for(lambda _: True, timeout_s=30)
    assert store.listener is not None
    told = store.listener.notifications
    admin = await make_key("admin")
    await _create(first, admin, "ops-notify")
    resp = await first.put("/v1/operators/ops-notify/feed", data=hsl, headers=ZIP | bearer(admin))
    version = (await resp.json())["version_id"]
    # A bound for a loaded machine (two processes compile at once), not a speed asserted.
    timetable = await store.wait_for(lambda t: version in t.version_ids, timeout_s=60)
    assert "ops-notify:1" in timetable.snapshot.stops.index
    assert store.listener.notifications > told
