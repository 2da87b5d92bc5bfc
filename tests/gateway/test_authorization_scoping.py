"""What the matrix does not name: lists without a filter, replayed keys, webhook deliveries.

Another party's lists and event deliveries hold none of tenant A's or operator X's things, and
a second tenant that sends tenant A's own `Idempotency-Key` and body gets a purchase of its own
(or a refusal), never A's booking replayed.
"""

from __future__ import annotations

import uuid

import orjson
import pytest

from tests.gateway.authz_world import World, feed_zip, this_month, world

__all__ = ["feed_zip", "world"]

ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")

#: (caller, path) lists each answered 200 with the caller's own things only.
OWN_LISTS = [
    ("tenant_b", f"/v1/settlements?period={this_month()}&format=csv"),
    ("operator_y", f"/v1/settlements?period={this_month()}&format=csv"),
    ("tenant_b", "/v1/bookings"),
    ("tenant_b", "/v1/events?limit=1000"),
    ("tenant_b", "/v1/webhooks"),
    ("tenant_b", f"/v1/settlements?period={this_month()}"),
    ("operator_y", "/v1/events?limit=1000"),
    ("operator_y", "/v1/webhooks"),
    ("operator_y", f"/v1/settlements?period={this_month()}"),
    ("operator_y", "/v1/operators/{y}/bookings"),
    ("operator_y", "/v1/operators/{y}/sales/daily"),
    ("planner", "/v1/events?limit=1000"),
    ("planner", "/v1/webhooks"),
]


def _foreign(world: World, caller: str, text: str) -> set[str]:
    """Return what of another party's a caller was shown."""
    theirs = {s for s, seers in world.secrets.items() if caller not in seers}
    theirs |= {world.tenant_a, world.operator_x}
    return {s for s in theirs if s in text}


@ON_MODULE_LOOP
@pytest.mark.parametrize(("caller", "path"), OWN_LISTS, ids=[f"{c} {p}" for c, p in OWN_LISTS])
async def test_a_list_shows_only_the_callers_own(world: World, caller: str, path: str) -> None:
    path, csv = path.removesuffix("&format=csv"), path.endswith("&format=csv")
    accept = {"Accept": "text/csv"} if csv else {}
    resp = await world.client.get(
        path.format(y=world.operator_y), headers=world.headers(caller) | accept
    )
    text = await resp.text()
    assert resp.status == 200, text
    assert resp.content_type == ("text/csv" if csv else "application/json")
    assert not _foreign(world, caller, text), text


@ON_MODULE_LOOP
async def test_the_owners_lists_do_hold_what_the_others_must_not_see(world: World) -> None:
    """The lists above are not empty by accident: the owners find their things there."""
    mine = await world.owner_json("tenant_a", "GET", "/v1/bookings")
    assert {b["id"] for b in mine["items"]} >= {world.names["confirmed"]["id"]}
    period = this_month()
    lines = await world.owner_json("operator_x", "GET", f"/v1/settlements?period={period}")
    assert [line["tenant_id"] for line in lines["items"]] == [world.tenant_a]
    resp = await world.client.get(
        f"/v1/settlements?period={period}",
        headers=world.headers("operator_x") | {"Accept": "text/csv"},
    )
    assert world.tenant_a in await resp.text()
    legs = await world.owner_json("operator_x", "GET", f"/v1/operators/{world.operator_x}/bookings")
    assert world.names["leg"]["leg"] in orjson.dumps(legs).decode()


@ON_MODULE_LOOP
async def test_another_tenant_replaying_a_key_and_body_never_gets_the_first_tenants_booking(
    world: World,
) -> None:
    assert world.purchases
    for key, body in world.purchases:
        resp = await world.client.post(
            "/v1/bookings",
            json=body,
            headers=world.headers("tenant_b") | {"Idempotency-Key": key},
        )
        text = await resp.text()
        assert resp.status == 404, text  # A's offers, named in the body, do not exist for B
        assert resp.headers.get("Idempotent-Replayed") is None
        assert not _foreign(world, "tenant_b", text.replace(body["offer_ids"][0], "")), text


@ON_MODULE_LOOP
async def test_no_other_partys_endpoint_is_given_a_delivery_of_the_owners_events(
    world: World,
) -> None:
    rows = await world.db.fetch(
        "SELECT endpoint_id::text, object_id FROM webhook_deliveries WHERE endpoint_id = ANY($1)",
        [uuid.UUID(n["webhook_id"]) for k, n in world.names.items() if k.startswith("webhook")],
    )
    delivered: dict[str, set[str]] = {}
    for row in rows:
        delivered.setdefault(row["endpoint_id"], set()).add(row["object_id"])
    assert world.names["confirmed"]["id"] in delivered.get(world.names["webhook"]["webhook_id"], ())
    for caller in ("tenant_b", "operator_y", "planner"):
        got = delivered.get(world.names[f"webhook_{caller}"]["webhook_id"], set())
        assert not _foreign(world, caller, " ".join(got)), (caller, got)


async def _traveller_of_a(world: World, ref: str) -> object:
    data = await world.owner_json("tenant_a", "GET", f"/v1/travellers/{ref}/data")
    data.pop("exported_at")
    return data


@ON_MODULE_LOOP
async def test_another_tenants_traveller_of_the_same_reference_is_another_person(
    world: World,
) -> None:
    """B grants, withdraws and erases under A's references: A's travellers and bookings stay."""
    booking = f"/v1/bookings/{world.names['confirmed']['id']}"
    booked_for = (await world.owner_json("tenant_a", "GET", booking))["traveller_ref"]
    refs = [world.names["traveller"]["ref"], booked_for]
    before = [await _traveller_of_a(world, ref) for ref in refs]
    for ref in refs:
        for method, path in (
            ("PUT", f"/v1/travellers/{ref}/consents/trip-statistics"),
            ("DELETE", f"/v1/travellers/{ref}/consents/trip-statistics"),
            ("DELETE", f"/v1/travellers/{ref}"),
        ):
            status, answer = await world.answer("tenant_b", method, path)
            assert status == 200, answer
            shown = orjson.dumps(answer).decode().replace(ref, "")  # B sent the reference
            assert not _foreign(world, "tenant_b", shown), answer
    assert [await _traveller_of_a(world, ref) for ref in refs] == before
    assert (await world.owner_json("tenant_a", "GET", booking))["traveller_ref"] == booked_for


@ON_MODULE_LOOP
async def test_a_key_another_tenant_used_on_the_owners_booking_neither_acts_nor_blocks_the_owner(
    world: World,
) -> None:
    """B confirms A's PENDING booking with a key: 404, still PENDING; A's confirm with it works.

    Last in the module: it confirms the booking the other tests find PENDING.
    """
    pending = f"/v1/bookings/{world.names['pending']['id']}"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    for _ in range(2):  # a retry is answered the same, and acts no more
        resp = await world.client.post(
            f"{pending}/confirm", headers=world.headers("tenant_b") | key
        )
        assert resp.status == 404, await resp.text()
    assert (await world.owner_json("tenant_a", "GET", pending))["status"] == "PENDING"
    resp = await world.client.post(f"{pending}/confirm", headers=world.headers("tenant_a") | key)
    confirmed = await resp.json()
    assert resp.status == 200, confirmed
    assert confirmed["status"] == "CONFIRMED"
    assert resp.headers.get("Idempotent-Replayed") is None
