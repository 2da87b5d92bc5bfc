"""Fares v2 files inside a published GTFS feed become the operator's fares, or refuse the feed."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import bearer

Client = TestClient[web.Request, web.Application]
MakeKey = Callable[..., Awaitable[str]]


async def _operator(client: Client, admin: dict[str, str]) -> str:
    operator_id = f"tc-{uuid.uuid4().hex[:6]}"
    body = {"id": operator_id, "name": "Transcollines", "timezone": "America/Toronto"}
    resp = await client.post("/v1/operators", json=body, headers=admin)
    assert resp.status == 201, await resp.text()
    return operator_id


def _with_broken_fares(source: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "fare_leg_rules.txt":
                lines = data.decode("utf-8-sig").splitlines()
                header = lines[0].split(",")
                row = lines[1].split(",")
                row[header.index("fare_product_id")] = "no-such-product"
                data = "\n".join([lines[0], ",".join(row), *lines[2:]]).encode()
            dst.writestr(info.filename, data)
    return out.getvalue()


async def test_fares_inside_a_feed_are_published_with_it(
    client: Client, make_key: MakeKey, shared_data: Path
) -> None:
    admin = bearer(await make_key("admin"))
    operator_id = await _operator(client, admin)
    feed = (shared_data / "gtfs" / "transcollines-fares-v2.zip").read_bytes()
    resp = await client.put(f"/v1/operators/{operator_id}/feed", data=feed, headers=admin)
    assert resp.status == 201, await resp.text()
    products = await (await client.get("/v1/products", params={"operator": operator_id})).json()
    assert products["items"]
    assert all(p["product_id"].startswith(f"{operator_id}:") for p in products["items"])


async def test_broken_fares_refuse_the_whole_feed(
    client: Client, make_key: MakeKey, shared_data: Path, db: asyncpg.Pool
) -> None:
    admin = bearer(await make_key("admin"))
    operator_id = await _operator(client, admin)
    broken = _with_broken_fares(shared_data / "gtfs" / "transcollines-fares-v2.zip")
    resp = await client.put(f"/v1/operators/{operator_id}/feed", data=broken, headers=admin)
    assert resp.status == 422
    problem = await resp.json(content_type="application/problem+json")
    assert problem["code"] == "invalid_fares"
    assert problem["errors"][0]["file"] == "fare_leg_rules.txt"
    assert problem["errors"][0]["row"] == 2
    stored = await db.fetchval(
        "SELECT count(*) FROM feed_versions WHERE operator_id = $1", operator_id
    )
    assert stored == 0
