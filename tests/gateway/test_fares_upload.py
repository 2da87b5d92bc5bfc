"""`PUT /v1/operators/{id}/fares`: the whole body is read, however it arrives."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.demo.kuopio import read_demo_fare_files
from tests.conftest import bearer
from tests.sales.support import operator_with_demo_fares

Client = TestClient[web.Request, web.Application]
MakeKey = Callable[..., Awaitable[str]]


def _fares_zip_with_padding(padding_bytes: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(read_demo_fare_files("kuopion-liikenne").items()):
            archive.writestr(name, data)
        # Random bytes, stored: the body is as large as this, as a big fares feed would be.
        archive.writestr("attachment.bin", os.urandom(padding_bytes), zipfile.ZIP_STORED)
    return out.getvalue()


async def test_a_large_fares_zip_arrives_whole(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id = await operator_with_demo_fares(db)
    body = _fares_zip_with_padding(3 * 1024 * 1024)
    resp = await client.put(
        f"/v1/operators/{operator_id}/fares",
        data=io.BytesIO(body),
        headers=bearer(await make_key("admin")) | {"Content-Type": "application/zip"},
    )
    assert resp.status == 201, await resp.text()
    products = await client.get("/v1/products", params={"operator": operator_id})
    assert (await products.json())["items"]
