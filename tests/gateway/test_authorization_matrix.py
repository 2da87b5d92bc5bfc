"""The authorization matrix: every route that names an object, called by every other party.

`MATRIX` (in `authz_matrix.py`) maps each route of the app's router ("METHOD /path/{param}") to the
object it names, how it is called, who may act on it, and how its owner reads it back. Every other
caller must be answered 401, 403 or 404, exactly as for an object that does not exist (a "ghost":
the same request with every id replaced), with a body holding none of the owner's data, and the
owner must read the object back unchanged. `NAMES_NOTHING` lists the open routes and the ones that
name only the caller's own things, each with why; a route in neither list fails
`test_every_endpoint_has_a_matrix_entry` until someone classifies it.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.gateway.authz_matrix import MATRIX, NAMES_NOTHING, Call
from tests.gateway.authz_world import CALLERS, World, feed_zip, world

__all__ = ["MATRIX", "NAMES_NOTHING", "feed_zip", "world"]

#: The async tests share the module's world, so they run on the module's event loop.
ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


def _routes() -> set[str]:
    app = create_app(Settings(database_url="postgresql://unused@127.0.0.1/unused"))
    return {f"{r.method} {r.resource.canonical}" for r in app.router.routes() if r.resource}


def test_every_endpoint_has_a_matrix_entry() -> None:
    routes = _routes()
    unclassified = routes - MATRIX.keys() - NAMES_NOTHING.keys()
    assert not unclassified, f"classify these routes in MATRIX or NAMES_NOTHING: {unclassified}"
    assert not (MATRIX.keys() | NAMES_NOTHING.keys()) - routes, "entries of routes that are gone"
    assert not MATRIX.keys() & NAMES_NOTHING.keys()


CASES = [
    pytest.param(route, caller, id=f"{route} as {caller}")
    for route, entry in MATRIX.items()
    for caller in CALLERS
    if caller not in entry.may
]


def _ghost(names: dict[str, str]) -> dict[str, str]:
    """Return the same names for objects that do not exist (ids of the same shape)."""
    ghost = {}
    for key, value in names.items():
        try:
            uuid.UUID(value)
            ghost[key] = str(uuid.uuid4())
        except ValueError:
            ghost[key] = value if key in ("period", "system") else f"ghost{uuid.uuid4().hex[:8]}"
    return ghost


async def _send_call(world: World, caller: str, call: Call) -> tuple[int, str, str]:
    headers = world.headers(caller) | call.headers
    data = call.data if call.json is None else orjson.dumps(call.json)
    if call.json is not None:
        headers.setdefault("Content-Type", "application/json")
    resp = await world.client.request(call.method, call.path, data=data, headers=headers)
    return resp.status, resp.content_type, (await resp.read()).decode("utf-8", "replace")


def _leaks(world: World, caller: str, text: str, call: Call) -> set[str]:
    """Return the secrets in an answer the caller may not see, except those it sent itself."""
    sent = call.text()
    return {
        s
        for s, seers in world.secrets.items()
        if caller not in seers and s in text and s not in sent
    }


def _problem(text: str, replace: dict[str, str]) -> dict[str, Any]:
    for ghost, real in replace.items():
        text = text.replace(ghost, real)
    problem: dict[str, Any] = orjson.loads(text)
    problem.pop("request_id", None)
    return problem


@ON_MODULE_LOOP
@pytest.mark.parametrize(("route", "caller"), CASES)
async def test_another_party_is_refused_and_nothing_changes(
    world: World, route: str, caller: str
) -> None:
    entry = MATRIX[route]
    names = world.names[entry.names]
    before = await entry.read_back(world)
    call = entry.build(world, names, caller)
    status, content_type, text = await _send_call(world, caller, call)
    assert not _leaks(world, caller, text, call), text
    if caller in entry.own:
        assert status == 200, text
    else:
        assert status in (401, 403, 404), text
        assert content_type == "application/problem+json"
        ghost = _ghost(names)
        g_status, _, g_text = await _send_call(world, caller, entry.build(world, ghost, caller))
        replace = {g: names[k] for k, g in ghost.items() if g != names[k]}
        assert (status, _problem(text, {})) == (g_status, _problem(g_text, replace)), (
            "the answer differs from that for an object that does not exist"
        )
    assert await entry.read_back(world) == before, "the call changed the owner's object"


def test_the_matrix_calls_every_other_party() -> None:
    assert len(CASES) >= 6 * len(MATRIX) // 2
    assert {c for _, c in (p.values for p in CASES)} == set(CALLERS)


@ON_MODULE_LOOP
async def test_owners_read_every_object_back(world: World) -> None:
    for route, entry in MATRIX.items():
        assert await entry.read_back(world), route
