"""Uploads: a multipart form is read as the file it carries, or refused with a hint."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.demo.kuopio import read_demo_fare_files
from tests.conftest import bearer
from tests.sales.support import operator_with_demo_fares
from tests.timetable_data import gtfs_path

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]


async def _operator(client: Client, admin: str, operator_id: str) -> str:
    resp = await client.post(
        "/v1/operators", json={"id": operator_id, "name": operator_id}, headers=bearer(admin)
    )
    assert resp.status == 201, await resp.text()
    return f"/v1/operators/{operator_id}/feed"


def _form(data: bytes, name: str = "file", filename: str | None = "feed.zip") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("note", "a plain field before the file")
    form.add_field(name, data, filename=filename, content_type="application/zip")
    return form


async def test_a_multipart_upload_stores_the_file_it_carries(
    client: Client, make_key: MakeKey, shared_data: Path
) -> None:
    admin = await make_key("admin")
    url = await _operator(client, admin, "up-multipart")
    feed = gtfs_path(shared_data, "hsl-minimal.zip").read_bytes()
    resp = await client.put(url, data=_form(feed), headers=bearer(admin))
    assert resp.status == 201, await resp.text()
    versions = await (await client.get(url)).json()
    # The stored version is the zip itself, not the multipart body around it.
    assert versions["items"][0]["sha256"] == hashlib.sha256(feed).hexdigest()
    again = await client.put(
        url, data=feed, headers=bearer(admin) | {"Content-Type": "application/zip"}
    )
    assert (await again.json())["changed"] is False


async def test_a_multipart_form_without_a_file_is_refused_with_a_hint(
    client: Client, make_key: MakeKey
) -> None:
    admin = await make_key("admin")
    url = await _operator(client, admin, "up-nofile")
    form = aiohttp.FormData({"feed": "not a file"})
    form._is_multipart = True  # a form of text fields only, sent as multipart/form-data
    resp = await client.put(url, data=form, headers=bearer(admin))
    assert resp.status == 400
    problem = await resp.json()
    assert problem["code"] == "upload_not_a_file"
    assert "-F file=@feed.zip" in problem["detail"]
    assert "curl -T feed.zip" in problem["detail"]


async def test_a_url_encoded_form_is_refused_with_a_hint(client: Client, make_key: MakeKey) -> None:
    admin = await make_key("admin")
    url = await _operator(client, admin, "up-urlencoded")
    resp = await client.put(
        url,
        data=b"PK\x03\x04binary",
        headers=bearer(admin) | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 400
    problem = await resp.json()
    assert problem["code"] == "upload_not_a_file"
    assert "--data-binary @feed.zip" in problem["detail"]


async def test_a_body_that_is_not_a_zip_names_no_empty_file(
    client: Client, make_key: MakeKey
) -> None:
    admin = await make_key("admin")
    url = await _operator(client, admin, "up-notzip")
    resp = await client.put(
        url, data=b"hello", headers=bearer(admin) | {"Content-Type": "application/zip"}
    )
    assert resp.status == 422
    detail = (await resp.json())["detail"]
    assert detail == "1 error(s) in the feed; first: the upload is not a zip archive"


async def test_fares_arrive_as_a_multipart_file_too(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id = await operator_with_demo_fares(db)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in sorted(read_demo_fare_files("kuopion-liikenne").items()):
            archive.writestr(name, data)
    resp = await client.put(
        f"/v1/operators/{operator_id}/fares",
        data=_form(out.getvalue(), filename="fares.zip"),
        headers=bearer(await make_key("admin")),
    )
    assert resp.status == 201, await resp.text()


async def test_a_latin1_feed_info_is_a_422_naming_the_file_and_stores_nothing(
    client: Client, make_key: MakeKey, shared_data: Path
) -> None:
    admin = await make_key("admin")
    url = await _operator(client, admin, "up-latin1")
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(gtfs_path(shared_data, "hsl-minimal.zip")) as src,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in src.infolist():
            if info.filename != "feed_info.txt":
                out.writestr(info.filename, src.read(info))
        out.writestr("feed_info.txt", "feed_publisher_name\nK\xe4rkk\xe4\n".encode("latin-1"))
    resp = await client.put(
        url, data=buffer.getvalue(), headers=bearer(admin) | {"Content-Type": "application/zip"}
    )
    assert resp.status == 422, await resp.text()
    problem = await resp.json()
    assert problem["code"] == "feed_invalid"
    assert problem["errors"][0]["file"] == "feed_info.txt"
    assert "not UTF-8 text: byte 0xe4" in problem["errors"][0]["message"]
    assert (await (await client.get(url)).json())["items"] == []
