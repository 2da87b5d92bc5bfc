"""The trip-flows API: consents and the traveller's rights for maas keys, releases for planners."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
import uuid
from typing import Any

import asyncpg
import pyarrow.parquet as pq
import pytest
from aiohttp.test_utils import TestClient, TestServer

from flows.audit import principal_of
from flows.schemas import ConsentReceipt
from gateway.access_log import AccessLogger
from gateway.api import api
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import ClientFactory, bearer
from tests.flows.support import at, crowd, places_by_zone, record_all, unique_period
from tests.sales.support import day_ticket_offer, offer, operator_with_demo_fares

Client = TestClient[Any, Any]
PURPOSE = "/consents/trip-statistics"
KANTARA = {
    "version",
    "jurisdiction",
    "consentTimestamp",
    "collectionMethod",
    "consentReceiptID",
    "language",
    "piiPrincipalId",
    "piiControllers",
    "policyUrl",
    "services",
    "sensitive",
    "spiCat",
}


async def _maas(make_key: Any) -> str:
    key: str = await make_key("maas", tenant_id=f"app-{uuid.uuid4().hex[:8]}")
    return key


async def test_grant_and_withdraw_return_kantara_receipts_kept_in_the_log(
    client: Client, make_key: Any, db: asyncpg.Pool
) -> None:
    key = await _maas(make_key)
    ref = f"t-{uuid.uuid4().hex[:6]}"
    granted = await client.put(f"/v1/travellers/{ref}{PURPOSE}", headers=bearer(key))
    assert granted.status == 200
    receipt = await granted.json()
    assert set(receipt) >= KANTARA
    assert receipt["action"] == "grant"
    assert receipt["piiPrincipalId"] == ref
    assert receipt["legalBasis"].startswith("consent")
    assert receipt["services"][0]["purposes"][0]["consentType"] == "EXPLICIT"
    withdrawn = await (
        await client.delete(f"/v1/travellers/{ref}{PURPOSE}", headers=bearer(key))
    ).json()
    assert withdrawn["action"] == "withdraw"
    log = await db.fetch(
        "SELECT id, action, receipt FROM flow_consent_receipts WHERE principal = $1 "
        "ORDER BY created_at",
        await principal_of(db, receipt["app"], ref),
    )
    assert [(str(r["id"]), r["action"]) for r in log] == [
        (receipt["consentReceiptID"], "grant"),
        (withdrawn["consentReceiptID"], "withdraw"),
    ]
    # The log keeps each receipt as handed out, but under the HMAC instead of the reference.
    stored = [ConsentReceipt.model_validate({**r["receipt"], "piiPrincipalId": ref}) for r in log]
    handed_out = [s.model_dump(mode="json") for s in stored]
    assert handed_out == [receipt, withdrawn]
    assert all(ref not in str(r["receipt"]) for r in log)


async def test_a_tenant_reaches_only_its_own_travellers(client: Client, make_key: Any) -> None:
    mine, theirs = await _maas(make_key), await _maas(make_key)
    ref = f"t-{uuid.uuid4().hex[:6]}"
    assert (await client.put(f"/v1/travellers/{ref}{PURPOSE}", headers=bearer(mine))).status == 200
    for method, path in (
        ("GET", f"/v1/travellers/{ref}/data"),
        ("DELETE", f"/v1/travellers/{ref}"),
        ("DELETE", f"/v1/travellers/{ref}{PURPOSE}"),
    ):
        resp = await client.request(method, path, headers=bearer(theirs))
        assert resp.status == 404, (method, path)
        assert (await resp.json())["code"] == "not_found"
    data = await (await client.get(f"/v1/travellers/{ref}/data", headers=bearer(mine))).json()
    assert [c["purpose"] for c in data["consents"]] == ["trip-statistics"]


async def test_only_maas_keys_manage_consents_and_only_planners_read_flows(
    client: Client, make_key: Any
) -> None:
    planner, maas = await make_key("planner"), await _maas(make_key)
    resp = await client.put(f"/v1/travellers/x{PURPOSE}", headers=bearer(planner))
    assert resp.status == 403
    for path in ("/v1/flows/releases", "/v1/flows/ledger", "/v1/flows/zone-systems"):
        assert (await client.get(path, headers=bearer(maas))).status == 403
        assert (await client.get(path, headers=bearer(planner))).status == 200
        assert (await client.get(path)).status == 401


def _filled(path: str) -> str:
    """Return the path with every `{name}` or `{name:regex}` filled with a value it matches."""

    def value(match: re.Match[str]) -> str:
        pattern = match.group(2) or ".+"
        candidates = [str(uuid.uuid4()), *pattern.split("|")]
        return next(str(c) for c in candidates if re.fullmatch(pattern, c))

    return re.sub(r"\{(\w+)(?::([^{}]+))?\}", value, path)


#: What a planner key may call besides open data: trip flows, itself, and its own webhooks.
PLANNER_SCOPE = ("/v1/flows/", "/v1/me", "/v1/webhooks", "/v1/events")


async def test_a_planner_key_reaches_releases_never_travellers_bookings_or_records(
    client: Client, make_key: Any
) -> None:
    planner = await make_key("planner")
    keyed = [(e, e.roles) for e in api.endpoints if e.roles is not None]
    assert {e.path for e, roles in keyed if "planner" in roles} >= {"/v1/flows/releases"}
    for endpoint, roles in keyed:
        if "planner" in roles:
            assert endpoint.path.startswith(PLANNER_SCOPE), endpoint.path
            continue
        path = _filled(endpoint.path)
        resp = await client.request(endpoint.method, path, headers=bearer(planner))
        assert resp.status == 403, (endpoint.method, path, resp.status)
    assert any(e.path.startswith("/v1/travellers/") for e, _ in keyed)


async def test_export_then_erasure_keeps_bookings_without_the_reference(
    client: Client, make_key: Any, db: asyncpg.Pool
) -> None:
    operator = await operator_with_demo_fares(db)
    key = await _maas(make_key)
    ref = f"t-{uuid.uuid4().hex[:6]}"
    await client.put(f"/v1/travellers/{ref}{PURPOSE}", headers=bearer(key))
    created = await offer(client, key, day_ticket_offer(operator))
    idem = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"offer_ids": [created["id"]], "travellers": created["travellers"], "traveller_ref": ref}
    booking = await (
        await client.post("/v1/bookings", json=body, headers=bearer(key) | idem)
    ).json()

    data = await (await client.get(f"/v1/travellers/{ref}/data", headers=bearer(key))).json()
    assert [b["id"] for b in data["bookings"]] == [booking["id"]]
    assert all(
        "legal_basis" in item
        for k in ("consents", "consent_receipts", "bookings")
        for item in data[k]
    )

    erased = await client.delete(f"/v1/travellers/{ref}", headers=bearer(key))
    assert (await erased.json())["action"] == "erase"
    kept = await (await client.get(f"/v1/bookings/{booking['id']}", headers=bearer(key))).json()
    assert kept["total_minor"] == booking["total_minor"]
    assert "traveller_ref" not in kept
    replay = await client.post("/v1/bookings", json=body, headers=bearer(key) | idem)
    assert ref not in await replay.text()
    after = await (await client.get(f"/v1/travellers/{ref}/data", headers=bearer(key))).json()
    assert after["bookings"] == []
    assert after["consents"] == []
    assert after["trip_records"] == []
    assert [r["action"] for r in after["consent_receipts"]] == ["grant", "erase"]


async def test_a_booking_takes_only_a_reference_the_travellers_api_can_reach(
    client: Client, make_key: Any, db: asyncpg.Pool
) -> None:
    operator = await operator_with_demo_fares(db)
    key = await _maas(make_key)
    created = await offer(client, key, day_ticket_offer(operator))
    for ref in ("", "an email@example.org", "ä", "x" * 65):
        body = {"offer_ids": [created["id"]], "traveller_ref": ref}
        headers = bearer(key) | {"Idempotency-Key": str(uuid.uuid4())}
        resp = await client.post("/v1/bookings", json=body, headers=headers)
        assert resp.status == 422, ref
        assert "body.traveller_ref" in (await resp.json())["detail"]
    resp = await client.get(f"/v1/travellers/{'x' * 65}/data", headers=bearer(key))
    assert resp.status == 422


async def test_the_access_log_never_names_a_traveller(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_key: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = TestServer(create_app(settings))
    await server.start_server(access_log_class=AccessLogger)  # as `maas serve` runs it
    logged = await aiohttp_client(server)
    key = bearer(await _maas(make_key))
    ref = f"logged-{uuid.uuid4().hex}"
    with caplog.at_level(logging.INFO):
        await logged.put(f"/v1/travellers/{ref}{PURPOSE}", headers=key)
        await logged.get(f"/v1/travellers/{ref}/data", headers=key)
        await logged.delete(f"/v1/travellers/{ref}", headers=key)
        await logged.get(f"/v1/travellers/{ref}/nothing-here", headers=key)
        await logged.get("/health")
        for _ in range(100):  # the access line is written just after the answer is sent
            if any(getattr(r, "path", None) == "/health" for r in caplog.records):
                break
            await asyncio.sleep(0.05)
    paths = [getattr(r, "path", None) for r in caplog.records if r.getMessage() == "request"]
    assert ref not in repr([(r.getMessage(), r.__dict__) for r in caplog.records])
    assert paths[:4] == [
        "/v1/travellers/{ref}/consents/{purpose}",
        "/v1/travellers/{ref}/data",
        "/v1/travellers/{ref}",
        "/v1/travellers/...",
    ]


async def test_request_bodies_refuse_unknown_fields(client: Client, make_key: Any) -> None:
    planner = await make_key("planner")
    body = {"period": "2001-01", "zone_system": "fare-zones", "bucket": "day", "k": 2}
    resp = await client.post("/v1/flows/releases", json=body, headers=bearer(planner))
    assert resp.status == 422
    assert "body.k" in (await resp.json())["detail"]


async def _period(db: asyncpg.Pool) -> str:
    places = await places_by_zone(db)
    period = unique_period()
    await record_all(db, crowd("api", 12, places["A"], places["B"], at(period, 2, 8)))
    return period


async def test_a_planner_releases_and_downloads_in_every_format(
    client: Client, make_key: Any, db: asyncpg.Pool, kuopio_demo: str
) -> None:
    planner = bearer(await make_key("planner"))
    period = await _period(db)
    body = {"period": period, "zone_system": "fare-zones", "bucket": "part_of_day"}
    resp = await client.post("/v1/flows/releases", json=body, headers=planner)
    assert resp.status == 201, await resp.text()
    release = await resp.json()
    assert release["cells_published"] == 1
    path = f"/v1/flows/releases/{release['id']}"
    detail = await (await client.get(path, headers=planner)).json()
    assert [c["count"] for c in detail["cells"]] == [12]

    as_csv = await client.get(path, headers=planner | {"Accept": "text/csv"})
    assert as_csv.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await as_csv.text())))
    assert len(rows) == release["cells_total"]
    assert sum(int(r["count"]) for r in rows if r["count"]) == 12
    parquet = await client.get(path + "?format=parquet", headers=planner)
    table = pq.read_table(io.BytesIO(await parquet.read()))
    assert table.num_rows == release["cells_total"]
    geo = await client.get(path, headers=planner | {"Accept": "application/geo+json"})
    assert (await geo.json(content_type=None))["type"] == "FeatureCollection"
    visum = await client.get(path + "?format=visum&bucket=morning", headers=planner)
    assert (await visum.text()).startswith("$O")
    assert (await client.get(path + "?format=visum", headers=planner)).status == 422
    flowmap = await client.get(path + "?format=flowmap", headers=planner)
    assert flowmap.content_type == "application/zip"

    listed = await (await client.get(f"/v1/flows/releases?period={period}", headers=planner)).json()
    assert [r["id"] for r in listed["items"]] == [release["id"]]
    unknown = await client.get(f"/v1/flows/releases/{uuid.uuid4()}", headers=planner)
    assert unknown.status == 404


async def test_two_planners_racing_for_the_last_budget_over_http(
    client: Client, make_key: Any, db: asyncpg.Pool, kuopio_demo: str
) -> None:
    planner = bearer(await make_key("planner"))
    period = await _period(db)
    body = {"period": period, "zone_system": "fare-zones", "bucket": "day", "epsilon": 0.8}
    answers = await asyncio.gather(
        *(client.post("/v1/flows/releases", json=body, headers=planner) for _ in range(2))
    )
    assert sorted(a.status for a in answers) == [201, 409]
    refused = next(a for a in answers if a.status == 409)
    assert (await refused.json())["code"] == "budget_exceeded"
    ledger = await (await client.get("/v1/flows/ledger", headers=planner)).json()
    (entry,) = [p for p in ledger["periods"] if p["period"] == period]
    assert entry["spent_epsilon"] == 0.8
    assert len(entry["releases"]) == 1


async def test_districts_are_uploaded_once_and_publish_their_zones(
    client: Client, make_key: Any
) -> None:
    planner = bearer(await make_key("planner"))
    system = f"d-{uuid.uuid4().hex[:6]}"
    square = [[[27.6, 62.88], [27.7, 62.88], [27.7, 62.9], [27.6, 62.9], [27.6, 62.88]]]
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "centre",
                "properties": {"name": "Centre"},
                "geometry": {"type": "Polygon", "coordinates": square},
            }
        ],
    }
    body = {"id": system, "name": "Test districts", "geojson": geojson}
    resp = await client.post("/v1/flows/zone-systems", json=body, headers=planner)
    assert resp.status == 201, await resp.text()
    assert (await client.post("/v1/flows/zone-systems", json=body, headers=planner)).status == 409
    zones = await (await client.get(f"/v1/flows/zone-systems/{system}", headers=planner)).json()
    assert [z["id"] for z in zones["zones"]] == ["centre", "_other"]
    bad = {
        "id": f"{system}-x",
        "name": "Bad",
        "geojson": {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": {"type": "Point", "coordinates": [27, 62]}}
            ],
        },
    }
    resp = await client.post("/v1/flows/zone-systems", json=bad, headers=planner)
    assert resp.status == 422
    assert (await resp.json())["code"] == "invalid_zones"
