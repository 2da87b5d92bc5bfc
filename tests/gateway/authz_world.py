"""The parties and objects of the authorization matrix, made once per module through the API.

Seven callers: nobody (no key), two MaaS apps (tenant A owns every app object), two operators
(operator X owns every operator object and sells everything A bought), a planner and an admin.
Every object is made the way its owner makes it, and its identifying values are kept under a
name (`World.names`); what another party must never see is kept in `World.secrets`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from flows.records import Place
from gateway import credentials
from gateway.app import create_app
from gateway.credentials import Role
from gateway.dbcodecs import init_connection
from gateway.settings import Settings
from tests.conftest import bearer
from tests.flows.support import at, crowd, record_all, unique_period
from tests.sales.support import day_ticket_offer, operator_with_demo_fares

Client = TestClient[web.Request, web.Application]

#: Every caller of the matrix, in the order the cases are listed.
CALLERS = ("anonymous", "tenant_a", "tenant_b", "operator_x", "operator_y", "planner", "admin")

#: A square around Kuopio's centre: the districts of the planner's zone system.
#: Who may see tenant A's things: A itself (the admin never reads an app's sales).
TENANT_A = frozenset({"tenant_a"})
PLANNERS = frozenset({"planner", "admin"})

SQUARE = [[[27.6, 62.88], [27.7, 62.88], [27.7, 62.9], [27.6, 62.9], [27.6, 62.88]]]


@dataclass
class World:
    """The running gateway, every caller's key, and the objects made by their owners."""

    client: Client
    db: asyncpg.Pool
    feed_zip: bytes
    keys: dict[str, str] = field(default_factory=dict)
    names: dict[str, dict[str, str]] = field(default_factory=dict)
    #: What another party must never see, and who may (the owner and its admin).
    secrets: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Tenant A's purchases: (Idempotency-Key, body) as sent.
    purchases: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    tenant_a: str = ""
    tenant_b: str = ""
    operator_x: str = ""
    operator_y: str = ""

    def hide(self, *values: str, seers: frozenset[str] = TENANT_A) -> None:
        """Keep values only the seers may see."""
        self.secrets.update(dict.fromkeys(values, seers))

    def headers(self, caller: str) -> dict[str, str]:
        """Return the Authorization header of a caller (none for `anonymous`)."""
        return bearer(self.keys[caller]) if caller in self.keys else {}

    async def answer(self, caller: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        """Call as a caller; return the status and the JSON body (asserting it is JSON)."""
        headers = self.headers(caller) | kw.pop("headers", {})
        resp = await self.client.request(method, path, headers=headers, **kw)
        return resp.status, await resp.json(content_type=None)

    async def owner_json(self, caller: str, method: str, path: str, **kw: Any) -> Any:
        """Read as the owner, which must succeed; return the JSON body."""
        status, body = await self.answer(caller, method, path, **kw)
        assert status == 200, (caller, method, path, status, body)
        return body


async def _key(
    world: World, caller: str, role: Role, operator: str | None, tenant: str | None
) -> None:
    name = f"authz-{caller}-{uuid.uuid4().hex[:6]}"
    world.keys[caller] = await credentials.create_key(world.db, role, name, operator, tenant)


async def make_world(
    client: Client, db: asyncpg.Pool, feed_zip: bytes, signing_secret: bytes | None
) -> World:
    """Make the parties and every object of the matrix, each by its owner."""
    world = World(client, db, feed_zip)
    suffix = uuid.uuid4().hex[:8]
    world.tenant_a, world.tenant_b = f"authz-app-a-{suffix}", f"authz-app-b-{suffix}"
    world.operator_x = await operator_with_demo_fares(
        db, f"authz-op-x-{suffix}", signing_secret=signing_secret
    )
    world.operator_y = await operator_with_demo_fares(
        db, f"authz-op-y-{suffix}", signing_secret=signing_secret
    )
    await _key(world, "tenant_a", "maas", None, world.tenant_a)
    await _key(world, "tenant_b", "maas", None, world.tenant_b)
    await _key(world, "operator_x", "operator", world.operator_x, None)
    await _key(world, "operator_y", "operator", world.operator_y, None)
    await _key(world, "planner", "planner", None, None)
    await _key(world, "admin", "admin", None, None)
    world.hide(world.tenant_a)
    world.names["operator"] = {"id": world.operator_x}
    world.names["tenant"] = {"tenant": world.tenant_a}
    # Before anything of A's happens: every event A's things cause would reach these if leaked.
    for caller in ("tenant_b", "operator_y", "planner"):
        world.names[f"webhook_{caller}"] = {"webhook_id": await _endpoint(world, caller)}
    await _webhook(world)
    await _sales(world)
    await _travellers(world)
    await _spare_key(world)
    await _flows(world)
    world.names["new_operator"] = {"id": f"authz-new-{suffix}"}
    return world


async def _offer(world: World, valid_from: str | None = None) -> dict[str, Any]:
    body = day_ticket_offer(world.operator_x)
    if valid_from is not None:
        body["product"]["valid_from"] = valid_from
    status, offer = await world.answer("tenant_a", "POST", "/v1/offers", json=body)
    assert status == 201, offer
    world.hide(offer["id"])
    return dict(offer)


async def _booking(world: World, offer_id: str, traveller_ref: str) -> dict[str, Any]:
    body = {
        "offer_ids": [offer_id],
        "travellers": [{"rider_category": "adult"}],
        "traveller_ref": traveller_ref,
    }
    idempotency_key = str(uuid.uuid4())
    headers = {"Idempotency-Key": idempotency_key}
    status, booking = await world.answer(
        "tenant_a", "POST", "/v1/bookings", json=body, headers=headers
    )
    assert status == 201, booking
    world.hide(booking["id"], traveller_ref)
    world.purchases.append((idempotency_key, body))
    return dict(booking)


async def _sales(world: World) -> None:
    """An unbooked offer, a PENDING booking, a CONFIRMED cancellable one with its ticket."""
    world.names["offer"] = {"id": (await _offer(world))["id"]}
    pending = await _booking(world, (await _offer(world))["id"], f"trav-p-{uuid.uuid4().hex[:6]}")
    world.names["pending"] = {"id": pending["id"]}
    later = await _offer(world, valid_from="2030-01-01T00:00:00+02:00")
    booked = await _booking(world, later["id"], f"trav-c-{uuid.uuid4().hex[:6]}")
    confirmed = await world.owner_json("tenant_a", "POST", f"/v1/bookings/{booked['id']}/confirm")
    assert confirmed["status"] == "CONFIRMED", confirmed
    ticket = confirmed["legs"][0]["ticket"]
    leg = await world.db.fetchval(
        "SELECT id::text FROM booking_legs WHERE booking_id = $1", uuid.UUID(booked["id"])
    )
    world.hide(ticket["id"], ticket["token"], leg)
    world.names["confirmed"] = {"id": booked["id"]}
    world.names["ticket"] = {"id": ticket["id"]}
    world.names["leg"] = {"id": world.operator_x, "leg": leg}


async def _travellers(world: World) -> None:
    """Travellers of tenant A who consented: one per route that names a traveller."""
    for name in ("traveller", "traveller_put"):
        ref = f"trav-{name[-3:]}-{uuid.uuid4().hex[:6]}"
        await world.owner_json("tenant_a", "PUT", f"/v1/travellers/{ref}/consents/trip-statistics")
        world.hide(ref)
        world.names[name] = {"ref": ref}


async def _webhook(world: World) -> None:
    """Tenant A's webhook endpoint (on a loopback port nothing listens on)."""
    url = f"http://127.0.0.1:9/hooks-of-a-{uuid.uuid4().hex[:8]}"
    body = {"url": url, "events": ["booking.*"]}
    status, made = await world.answer("tenant_a", "POST", "/v1/webhooks", json=body)
    assert status == 201, made
    world.hide(made["id"], made["secret"], url)
    world.names["webhook"] = {"webhook_id": made["id"]}


async def _endpoint(world: World, caller: str) -> str:
    """Register a webhook endpoint of a caller for every event it may see; return its id."""
    url = f"http://127.0.0.1:9/hooks-of-{caller}"
    status, made = await world.answer(caller, "POST", "/v1/webhooks", json={"url": url})
    assert status == 201, made
    return str(made["id"])


async def _spare_key(world: World) -> None:
    """A second key of tenant A, which only the admin may revoke."""
    key = await credentials.create_key(world.db, "maas", "authz-spare", None, world.tenant_a)
    world.keys["spare"] = key
    world.hide(key)
    world.names["key"] = {"prefix": credentials.key_prefix(key)}


async def _flows(world: World) -> None:
    """The planner's districts and a release of a closed month over them."""
    system = f"authz-d-{uuid.uuid4().hex[:6]}"
    feature = {
        "type": "Feature",
        "id": "centre",
        "properties": {"name": "Centre"},
        "geometry": {"type": "Polygon", "coordinates": SQUARE},
    }
    body = {
        "id": system,
        "name": "Authz districts",
        "geojson": {"type": "FeatureCollection", "features": [feature]},
    }
    status, made = await world.answer("planner", "POST", "/v1/flows/zone-systems", json=body)
    assert status == 201, made
    # As if uploaded long ago: the trips of the past month below then carry its districts.
    await world.db.execute(
        "UPDATE flow_zone_systems SET created_at = '1800-01-01T00:00Z' WHERE id = $1", system
    )
    period = unique_period()
    centre, outside = Place(None, 62.89, 27.65), Place(None, 62.95, 27.9)
    await record_all(world.db, crowd(f"authz-{system}", 12, centre, outside, at(period, 2, 8)))
    release = {"period": period, "zone_system": system, "bucket": "day"}
    status, made = await world.answer("planner", "POST", "/v1/flows/releases", json=release)
    assert status == 201, made
    world.hide(made["id"], seers=PLANNERS)
    world.names["release"] = {"id": made["id"]}
    world.names["zones"] = {"id": system}
    world.names["period"] = {"period": period, "system": system}


def this_month() -> str:
    """Return the current month (`YYYY-MM`), whose settlement holds the confirmed booking."""
    return datetime.now(UTC).strftime("%Y-%m")


SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "gtfs"


@pytest.fixture(scope="module")
def feed_zip() -> bytes:
    """Return a small real GTFS zip: the body of the refused feed uploads."""
    return (SHARED / "hsl-minimal.zip").read_bytes()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    database_url: str,
    redis_url: str,
    feed_zip: bytes,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    """Return one gateway and the matrix's parties and objects, made once for the module."""
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=f"maas-test:{uuid.uuid4().hex[:8]}:",
        data_dir=tmp_path_factory.mktemp("authz"),
        log_json=False,
        allow_private_urls=True,  # the webhook endpoint is a loopback URL
        rate_limit_requests=100_000,
        rate_limit_anonymous_requests=100_000,
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        async with asyncpg.create_pool(
            database_url, min_size=1, max_size=4, init=init_connection
        ) as pool:
            yield await make_world(client, pool, feed_zip, settings.signing_secret)
    finally:
        await client.close()
