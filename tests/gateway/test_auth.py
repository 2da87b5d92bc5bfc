from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from gateway import credentials
from tests.conftest import bearer

MakeKey = Callable[..., Awaitable[str]]


async def test_no_key_is_401_with_bearer_challenge(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/v1/me")
    assert resp.status == 401
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    body = await resp.json()
    assert body["code"] == "unauthorized"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer mk_admin_AAAAAAAA_" + "x" * 43,  # well-formed, unknown
        "Bearer not-a-key",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
)
async def test_bad_key_is_401(client: TestClient, header: str) -> None:  # type: ignore[type-arg]
    resp = await client.get("/v1/me", headers={"Authorization": header})
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"


async def test_right_secret_with_wrong_prefix_is_401(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
) -> None:
    key = await make_key("admin")
    other = await make_key("admin")
    forged = credentials.key_prefix(other) + key[len(credentials.key_prefix(key)) :]
    resp = await client.get("/v1/me", headers=bearer(forged))
    assert resp.status == 401


async def test_revoked_key_is_401(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
    db: asyncpg.Pool,
) -> None:
    key = await make_key("planner")
    assert (await client.get("/v1/me", headers=bearer(key))).status == 200
    assert await credentials.revoke_key(db, credentials.key_prefix(key))
    resp = await client.get("/v1/me", headers=bearer(key))
    assert resp.status == 401
    assert "revoked" in (await resp.json())["detail"]


@pytest.mark.parametrize("role", ["maas", "planner"])
async def test_wrong_role_is_403(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
    role: credentials.Role,
) -> None:
    key = await make_key(role)
    resp = await client.get("/v1/keys", headers=bearer(key))
    assert resp.status == 403
    body = await resp.json()
    assert body["code"] == "forbidden"
    assert "admin" in body["detail"]


async def test_operator_key_is_bound_to_its_operator(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
    db: asyncpg.Pool,
) -> None:
    await db.execute(
        "INSERT INTO operators (id, name) VALUES ('auth-test-ferry', 'Ferry') "
        "ON CONFLICT DO NOTHING"
    )
    key = await make_key("operator", operator_id="auth-test-ferry")
    me = await (await client.get("/v1/me", headers=bearer(key))).json()
    assert me["role"] == "operator"
    assert me["operator_id"] == "auth-test-ferry"


async def test_admin_issues_lists_and_revokes_keys(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
) -> None:
    admin = bearer(await make_key("admin"))
    resp = await client.post(
        "/v1/keys", json={"role": "maas", "name": "Whim Helsinki"}, headers=admin
    )
    assert resp.status == 201
    created = await resp.json()
    me = await (await client.get("/v1/me", headers=bearer(created["key"]))).json()
    assert me["tenant_id"] == "whim-helsinki"
    listed = await (await client.get("/v1/keys", headers=admin)).json()
    prefixes = {k["prefix"] for k in listed["items"]}
    assert created["prefix"] in prefixes
    assert all("key" not in k and "secret_hash" not in k for k in listed["items"])
    assert (await client.delete(f"/v1/keys/{created['prefix']}", headers=admin)).status == 204
    assert (await client.get("/v1/me", headers=bearer(created["key"]))).status == 401
    assert (await client.delete(f"/v1/keys/{created['prefix']}", headers=admin)).status == 404


async def test_operator_key_needs_an_existing_operator(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
) -> None:
    admin = bearer(await make_key("admin"))
    body = {"role": "operator", "name": "x", "operator_id": "no-such-operator"}
    assert (await client.post("/v1/keys", json=body, headers=admin)).status == 404
    body = {"role": "operator", "name": "x"}
    resp = await client.post("/v1/keys", json=body, headers=admin)
    assert resp.status == 422


async def test_stored_key_is_only_a_hash(make_key: MakeKey, db: asyncpg.Pool) -> None:
    key = await make_key("admin")
    row = await db.fetchrow("SELECT * FROM api_keys WHERE prefix = $1", credentials.key_prefix(key))
    assert row is not None
    assert key.encode() not in bytes(row["secret_hash"])
    assert all(key not in str(v) for v in dict(row).values())


async def test_a_maas_key_named_like_an_existing_tenant_does_not_join_it(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
) -> None:
    admin = bearer(await make_key("admin"))
    first = {"role": "maas", "name": "Такси Лахти"}  # slugs to the same fallback as any
    resp = await client.post("/v1/keys", json=first, headers=admin)  # non-Latin name
    assert resp.status == 201
    tenant = (
        await (await client.get("/v1/me", headers=bearer((await resp.json())["key"]))).json()
    )["tenant_id"]
    other = {"role": "maas", "name": "東京"}
    resp = await client.post("/v1/keys", json=other, headers=admin)
    assert resp.status == 409
    assert (await resp.json(content_type=None))["code"] == "tenant_exists"
    joined = await client.post(
        "/v1/keys", json={"role": "maas", "name": "Second key", "tenant_id": tenant}, headers=admin
    )
    assert joined.status == 201
    wrong = {"role": "planner", "name": "x", "tenant_id": tenant}
    assert (await client.post("/v1/keys", json=wrong, headers=admin)).status == 422
