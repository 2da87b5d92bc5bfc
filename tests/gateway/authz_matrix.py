"""The table of the authorization matrix: each route, the object it names, who may act on it.

Read by `tests/gateway/test_authorization_matrix.py`, which says what a refusal must look like.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.demo.kuopio import read_demo_fare_files
from sales.fares import zip_files
from tests.gateway.authz_world import World, this_month
from tests.gateway.realtime.support import Vehicle, vehicle_feed


@dataclass(frozen=True)
class Call:
    """One request of the matrix."""

    method: str
    path: str
    json: Any = None
    data: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        """Return what the caller sent: values it knows, which an answer may echo."""
        body = orjson.dumps(self.json).decode() if self.json is not None else ""
        return " ".join((self.path, body, *self.headers.values()))


#: (world, the object's names, or its ghost's, the caller) -> the request.
Build = Callable[[World, dict[str, str], str], Call]
ReadBack = Callable[[World], Awaitable[object]]


@dataclass(frozen=True)
class Entry:
    """How a route names its object, who may act on it, and how the owner reads it back."""

    names: str
    build: Build
    read_back: ReadBack
    may: frozenset[str]
    #: Callers answered 200 with their own things only (a list, a grant in their own namespace).
    own: frozenset[str] = frozenset()


def _get(template: str) -> Build:
    return lambda _w, n, _c: Call("GET", template.format(**n))


def _send(method: str, template: str, **kw: Any) -> Build:
    return lambda _w, n, _c: Call(method, template.format(**n), **kw)


# Read-backs: the object as its owner sees it; every refused call must leave it equal.


async def _offer(w: World) -> object:
    offer = uuid.UUID(w.names["offer"]["id"])
    booked = await w.db.fetchval("SELECT count(*) FROM booking_offers WHERE offer_id = $1", offer)
    return booked, await w.owner_json("tenant_a", "GET", f"/v1/offers/{offer}")


def _booking(name: str) -> ReadBack:
    async def read(w: World) -> object:
        return await w.owner_json("tenant_a", "GET", f"/v1/bookings/{w.names[name]['id']}")

    return read


async def _bookings(w: World) -> object:
    """Tenant A's bookings, with their legs and tickets, and the operator's view of its legs."""
    mine = await w.owner_json("tenant_a", "GET", "/v1/bookings")
    legs = await w.owner_json("operator_x", "GET", f"/v1/operators/{w.operator_x}/bookings")
    return mine, legs


def _traveller(name: str) -> ReadBack:
    async def read(w: World) -> object:
        ref = w.names[name]["ref"]
        data = await w.owner_json("tenant_a", "GET", f"/v1/travellers/{ref}/data")
        data.pop("exported_at")  # when this export was made
        return data

    return read


async def _webhook(w: World) -> object:
    found = w.names["webhook"]["webhook_id"]
    row = await w.db.fetchrow("SELECT * FROM webhook_endpoints WHERE id = $1", uuid.UUID(found))
    return dict(row or {}), await w.owner_json("tenant_a", "GET", f"/v1/webhooks/{found}")


async def _keys(w: World) -> object:
    rows = await w.db.fetch(
        "SELECT prefix, role, revoked_at FROM api_keys WHERE tenant_id = $1 ORDER BY prefix",
        w.tenant_a,
    )
    return [dict(r) for r in rows], await w.owner_json("spare", "GET", "/v1/me")


async def _operator(w: World) -> object:
    """Everything operator X publishes and holds: feed, fares, seats, conditions, realtime."""
    x = w.operator_x
    fares = await w.db.fetch(
        "SELECT id, sha256 FROM fare_versions WHERE operator_id = $1 ORDER BY id", x
    )
    seats = await w.db.fetch(
        "SELECT id, product_id, seats_total FROM capacities WHERE operator_id = $1 ORDER BY id", x
    )
    return (
        [dict(r) for r in fares],
        [dict(r) for r in seats],
        await w.owner_json("operator_x", "GET", f"/v1/operators/{x}/feed"),
        await w.owner_json("operator_x", "GET", f"/v1/operators/{x}/conditions"),
        await w.owner_json("operator_x", "GET", f"/v1/operators/{x}/realtime"),
        # 404 until X names URLs to poll: a refused PUT must leave it so.
        await w.answer("operator_x", "GET", f"/v1/operators/{x}/realtime-sources"),
    )


async def _new_operator(w: World) -> object:
    return await w.answer("admin", "GET", f"/v1/operators/{w.names['new_operator']['id']}")


async def _settlement(w: World) -> object:
    path = f"/v1/settlements?period={this_month()}&tenant={w.tenant_a}"
    return await w.owner_json("tenant_a", "GET", path)


async def _events(w: World) -> object:
    return await w.owner_json("tenant_a", "GET", "/v1/events?limit=1000")


async def _flows(w: World) -> object:
    period, system = w.names["period"]["period"], w.names["period"]["system"]
    return (
        await w.owner_json("planner", "GET", f"/v1/flows/releases/{w.names['release']['id']}"),
        await w.owner_json("planner", "GET", f"/v1/flows/releases?period={period}"),
        await w.owner_json("planner", "GET", "/v1/flows/ledger"),
        await w.owner_json("planner", "GET", "/v1/flows/zone-systems"),
        await w.owner_json("planner", "GET", f"/v1/flows/zone-systems/{system}"),
    )


# Who may act: the owner, and the admin where the admin acts on anyone's.

APP_A = frozenset({"tenant_a"})
OPERATOR_X = frozenset({"operator_x", "admin"})
PLANNERS = frozenset({"planner", "admin"})
ADMIN = frozenset({"admin"})


def _own_operator(template: str, method: str = "GET", **kw: Any) -> Build:
    """Call operator X's route; operator Y names its own operator with X's object in it."""

    def build(w: World, n: dict[str, str], caller: str) -> Call:
        names = n | {"id": w.operator_y} if caller == "operator_y" and "leg" in n else n
        return Call(method, template.format(**names), **kw)

    return build


def _realtime_push(w: World, n: dict[str, str], _c: str) -> Call:
    feed = vehicle_feed([Vehicle("authz-bus", 62.89, 27.67)])
    headers = {"Content-Type": "application/x-protobuf"}
    return Call("POST", f"/v1/operators/{n['id']}/realtime/vehicle-positions", None, feed, headers)


def _feed_upload(w: World, n: dict[str, str], _c: str) -> Call:
    headers = {"Content-Type": "application/zip"}
    return Call("PUT", f"/v1/operators/{n['id']}/feed", None, w.feed_zip, headers)


def _fares_upload(_w: World, n: dict[str, str], _c: str) -> Call:
    other = zip_files(read_demo_fare_files("linja-karjala"))
    headers = {"Content-Type": "application/zip"}
    return Call("PUT", f"/v1/operators/{n['id']}/fares", None, other, headers)


def _book_their_offer(_w: World, n: dict[str, str], _c: str) -> Call:
    body = {"offer_ids": [n["id"]], "travellers": [{"rider_category": "adult"}]}
    return Call("POST", "/v1/bookings", body, headers={"Idempotency-Key": str(uuid.uuid4())})


def _settlement_of(w: World, n: dict[str, str], caller: str) -> Call:
    """Ask for tenant A's lines; operator Y asks for operator X's."""
    party = f"operator={w.operator_x}" if caller.startswith("operator") else f"tenant={n['tenant']}"
    return Call("GET", f"/v1/settlements?period={this_month()}&{party}")


def _mint_key(_w: World, n: dict[str, str], _c: str) -> Call:
    body = {"role": "maas", "name": "authz-minted", "tenant_id": n["tenant"]}
    return Call("POST", "/v1/keys", body)


def _onboard(_w: World, n: dict[str, str], _c: str) -> Call:
    return Call("POST", "/v1/operators", {"id": n["id"], "name": "Authz new operator"})


def _release(_w: World, n: dict[str, str], _c: str) -> Call:
    body = {"period": n["period"], "zone_system": n["system"], "bucket": "hour"}
    return Call("POST", "/v1/flows/releases", body)


def _districts(_w: World, n: dict[str, str], _c: str) -> Call:
    square = [[[27.6, 62.88], [27.7, 62.88], [27.7, 62.9], [27.6, 62.9], [27.6, 62.88]]]
    feature = {"type": "Feature", "id": "c", "geometry": {"type": "Polygon", "coordinates": square}}
    body = {
        "id": f"{n['system']}-2",
        "name": "Authz districts again",
        "geojson": {"type": "FeatureCollection", "features": [feature]},
    }
    return Call("POST", "/v1/flows/zone-systems", body)


CONSENT = "/v1/travellers/{ref}/consents/trip-statistics"
OPERATOR = "/v1/operators/{id}"

MATRIX: dict[str, Entry] = {
    # Sales: tenant A's offers, bookings and tickets.
    "GET /v1/offers/{id}": Entry("offer", _get("/v1/offers/{id}"), _offer, APP_A),
    "POST /v1/bookings": Entry("offer", _book_their_offer, _offer, APP_A),
    "GET /v1/bookings": Entry(
        "confirmed", _get("/v1/bookings"), _bookings, APP_A, own=frozenset({"tenant_b"})
    ),
    "GET /v1/bookings/{id}": Entry(
        "confirmed", _get("/v1/bookings/{id}"), _booking("confirmed"), APP_A
    ),
    "POST /v1/bookings/{id}/confirm": Entry(
        "pending", _send("POST", "/v1/bookings/{id}/confirm"), _booking("pending"), APP_A
    ),
    "POST /v1/bookings/{id}/cancel": Entry(
        "confirmed", _send("POST", "/v1/bookings/{id}/cancel"), _booking("confirmed"), APP_A
    ),
    "GET /v1/tickets/{id}/qr.png": Entry(
        "ticket", _get("/v1/tickets/{id}/qr.png"), _booking("confirmed"), APP_A
    ),
    "GET /v1/tickets/{id}/qr.svg": Entry(
        "ticket", _get("/v1/tickets/{id}/qr.svg"), _booking("confirmed"), APP_A
    ),
    "GET /v1/settlements": Entry(
        "tenant", _settlement_of, _settlement, frozenset({"tenant_a", "operator_x", "admin"})
    ),
    # Travellers of tenant A.
    "PUT /v1/travellers/{ref}/consents/{purpose}": Entry(
        "traveller_put",
        _send("PUT", CONSENT),
        _traveller("traveller_put"),
        APP_A,
        own=frozenset({"tenant_b"}),
    ),
    "DELETE /v1/travellers/{ref}/consents/{purpose}": Entry(
        "traveller", _send("DELETE", CONSENT), _traveller("traveller"), APP_A
    ),
    "GET /v1/travellers/{ref}/data": Entry(
        "traveller", _get("/v1/travellers/{ref}/data"), _traveller("traveller"), APP_A
    ),
    "DELETE /v1/travellers/{ref}": Entry(
        "traveller", _send("DELETE", "/v1/travellers/{ref}"), _traveller("traveller"), APP_A
    ),
    # Tenant A's webhook endpoint and events (the admin reads and deletes anyone's).
    "GET /v1/webhooks": Entry(
        "webhook",
        _get("/v1/webhooks"),
        _webhook,
        frozenset({"tenant_a", "admin"}),
        own=frozenset({"tenant_b", "operator_x", "operator_y", "planner"}),
    ),
    "GET /v1/webhooks/{webhook_id}": Entry(
        "webhook", _get("/v1/webhooks/{webhook_id}"), _webhook, frozenset({"tenant_a", "admin"})
    ),
    "DELETE /v1/webhooks/{webhook_id}": Entry(
        "webhook",
        _send("DELETE", "/v1/webhooks/{webhook_id}"),
        _webhook,
        frozenset({"tenant_a", "admin"}),
    ),
    "POST /v1/webhooks/{webhook_id}/rotate": Entry(
        "webhook", _send("POST", "/v1/webhooks/{webhook_id}/rotate"), _webhook, APP_A
    ),
    "POST /v1/webhooks/{webhook_id}/reactivate": Entry(
        "webhook", _send("POST", "/v1/webhooks/{webhook_id}/reactivate"), _webhook, APP_A
    ),
    "GET /v1/events": Entry(
        "confirmed",
        _get("/v1/events?limit=1000"),
        _events,
        frozenset({"tenant_a", "operator_x", "admin"}),
        own=frozenset({"tenant_b", "operator_y", "planner"}),
    ),
    # Keys (the admin's).
    "GET /v1/keys": Entry("key", _get("/v1/keys?limit=100"), _keys, ADMIN),
    "POST /v1/keys": Entry("tenant", _mint_key, _keys, ADMIN),
    "DELETE /v1/keys/{prefix}": Entry("key", _send("DELETE", "/v1/keys/{prefix}"), _keys, ADMIN),
    "POST /v1/operators": Entry("new_operator", _onboard, _new_operator, ADMIN),
    # Operator X's publications, seats, realtime and sales.
    "PUT /v1/operators/{id}/feed": Entry("operator", _feed_upload, _operator, OPERATOR_X),
    "PUT /v1/operators/{id}/fares": Entry("operator", _fares_upload, _operator, OPERATOR_X),
    "PUT /v1/operators/{id}/capacities": Entry(
        "operator",
        _send("PUT", OPERATOR + "/capacities", json={"seats_total": 0, "product_id": "day"}),
        _operator,
        OPERATOR_X,
    ),
    "PUT /v1/operators/{id}/conditions": Entry(
        "operator",
        _send("PUT", OPERATOR + "/conditions", json={"all_products": {"cancellable": False}}),
        _operator,
        OPERATOR_X,
    ),
    "POST /v1/operators/{id}/realtime/{kind}": Entry(
        "operator", _realtime_push, _operator, OPERATOR_X
    ),
    "GET /v1/operators/{id}/realtime": Entry(
        "operator", _get(OPERATOR + "/realtime"), _operator, OPERATOR_X
    ),
    "PUT /v1/operators/{id}/realtime-sources": Entry(
        "operator",
        _send(
            "PUT",
            OPERATOR + "/realtime-sources",
            json={"vehicle_positions_url": "http://127.0.0.1:9/authz-vp.pb"},
        ),
        _operator,
        OPERATOR_X,
    ),
    "GET /v1/operators/{id}/realtime-sources": Entry(
        "operator", _get(OPERATOR + "/realtime-sources"), _operator, OPERATOR_X
    ),
    "GET /v1/operators/{id}/bookings": Entry(
        "operator", _get(OPERATOR + "/bookings"), _bookings, OPERATOR_X
    ),
    "GET /v1/operators/{id}/sales/daily": Entry(
        "operator", _get(OPERATOR + "/sales/daily"), _bookings, OPERATOR_X
    ),
    "POST /v1/operators/{id}/bookings/{leg}/events": Entry(
        "leg",
        _own_operator(OPERATOR + "/bookings/{leg}/events", "POST", json={"operation": "CANCEL"}),
        _booking("confirmed"),
        frozenset({"operator_x"}),
    ),
    # The planners' trip flows.
    "POST /v1/flows/releases": Entry("period", _release, _flows, PLANNERS),
    "GET /v1/flows/releases": Entry(
        "period", _get("/v1/flows/releases?period={period}"), _flows, PLANNERS
    ),
    "GET /v1/flows/releases/{id}": Entry(
        "release", _get("/v1/flows/releases/{id}"), _flows, PLANNERS
    ),
    "GET /v1/flows/ledger": Entry("period", _get("/v1/flows/ledger"), _flows, PLANNERS),
    "GET /v1/flows/zone-systems": Entry("zones", _get("/v1/flows/zone-systems"), _flows, PLANNERS),
    "GET /v1/flows/zone-systems/{id}": Entry(
        "zones", _get("/v1/flows/zone-systems/{id}"), _flows, PLANNERS
    ),
    "POST /v1/flows/zone-systems": Entry("period", _districts, _flows, PLANNERS),
}

_OPEN = "open data: the law wants it public, and it names nothing of any party"
_PAGE = "a page or document of the gateway itself, the same for everyone"
NAMES_NOTHING: dict[str, str] = {
    "GET /": _PAGE,
    "GET /problems": _PAGE,
    "GET /problems/{code}": _PAGE,
    "GET /health": "liveness: says nothing but that the process runs",
    "GET /ready": "readiness of PostgreSQL, Redis and the timetable, no party's data",
    "GET /metrics": "Prometheus counters per route and status, no ids",
    "GET /openapi.json": _PAGE,
    "GET /docs": _PAGE,
    "GET /docs/static": "vendored Swagger UI files",
    "HEAD /docs/static": "vendored Swagger UI files",
    "GET /map": _PAGE,
    "GET /map/flows": "a page; it asks the browser for a planner key and reads the API with it",
    "GET /map/static/leaflet": "vendored Leaflet files",
    "HEAD /map/static/leaflet": "vendored Leaflet files",
    "GET /v1/me": "answers only who the caller itself is (401 without a key)",
    "POST /v1/offers": "prices a public product for the caller's own tenant; names no object",
    "POST /v1/webhooks": "registers an endpoint of the caller's own; names no object",
    "GET /v1/operators": _OPEN,
    "GET /v1/operators/{id}": _OPEN,
    "GET /v1/operators/{id}/feed": _OPEN + " (feed versions, service dates, warnings)",
    "GET /v1/operators/{id}/conditions": _OPEN + " (conditions of sale)",
    "GET /v1/stops": _OPEN,
    "GET /v1/stops/{id}": _OPEN,
    "GET /v1/stops/{id}/departures": _OPEN,
    "GET /v1/routes": _OPEN,
    "GET /v1/routes/{id}": _OPEN,
    "GET /v1/gtfs/merged.zip": _OPEN,
    "GET /v1/network.geojson": _OPEN,
    "GET /v1/journeys": _OPEN + " (prices are the published fares; nothing is stored)",
    "GET /v1/products": _OPEN + " (the published fares)",
    "GET /.well-known/jwks.json": "public ticket-verification keys",
    "GET /v1/status-lists/{operator_id}": "one revocation bit per ticket index, no ticket data",
    "GET /v1/vehicles": _OPEN + " (live positions)",
    "GET /v1/vehicles/stream": _OPEN + " (live positions)",
    "GET /v1/gtfs-rt/vehicle-positions.pb": _OPEN,
    "GET /v1/gtfs-rt/trip-updates.pb": _OPEN,
    "GET /v1/gtfs-rt/alerts.pb": _OPEN,
}
