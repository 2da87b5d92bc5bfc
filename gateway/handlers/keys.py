"""Admin: issue, list and revoke API keys; anyone: see who their key says they are."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway import credentials, operator_store
from gateway.api import api, principal
from gateway.appkeys import cache_key, db_key
from gateway.credentials import Role
from gateway.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_time_key, encode_time_key
from gateway.problems import Problem, not_found


class KeyCreate(BaseModel):
    """A new key's role, a name for people, and the operator an operator key is bound to."""

    model_config = ConfigDict(extra="forbid")

    role: Role = Field(description="what the key may do: `maas`, `operator`, `planner` or `admin`")
    name: str = Field(
        min_length=1,
        max_length=200,
        description="a name for people; a new maas tenant is named after it",
    )
    operator_id: str | None = Field(
        default=None, description="the operator an `operator` key acts for"
    )
    tenant_id: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{1,62}$",
        description=(
            "the tenant a `maas` key belongs to (joins an existing tenant); default a new tenant"
        ),
    )

    @model_validator(mode="after")
    def _operator_only_for_operator_keys(self) -> KeyCreate:
        if (self.role == "operator") != (self.operator_id is not None):
            raise ValueError("operator_id is required for role operator and only for it")
        if self.role != "maas" and self.tenant_id is not None:
            raise ValueError("tenant_id is only for role maas")
        return self


class KeyCreated(BaseModel):
    """The new key: shown once, never again."""

    key: str = Field(
        description="the key: send it as `Authorization: Bearer <key>`; it is shown only once"
    )
    prefix: str = Field(description="its public prefix, to list or revoke it")
    role: Role = Field(description="its role")


class KeyOut(BaseModel):
    """A key as listed: never its secret."""

    prefix: str = Field(description="its public prefix")
    role: Role = Field(description="its role")
    name: str = Field(description="its name")
    tenant_id: str | None = Field(default=None, description="the tenant of a maas key")
    operator_id: str | None = Field(default=None, description="the operator of an operator key")
    created_at: datetime = Field(description="when it was issued")
    revoked_at: datetime | None = Field(default=None, description="when it was revoked")


class KeyList(BaseModel):
    """A page of keys, newest first."""

    items: list[KeyOut] = Field(description="the keys of this page, newest first (no secrets)")
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; absent on the last page"
    )


class KeyQuery(BaseModel):
    """Paging of the key list."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="keys per page, newest first"
    )
    cursor: str | None = Field(
        default=None, description="the `next_cursor` of the previous page (opaque)"
    )


class Me(BaseModel):
    """What the caller's key says about the caller."""

    prefix: str = Field(description="the key's prefix")
    role: Role = Field(description="its role")
    name: str = Field(description="its name")
    tenant_id: str | None = Field(default=None, description="the tenant of a maas key")
    operator_id: str | None = Field(default=None, description="the operator of an operator key")


@api.route(
    "GET", "/v1/me", summary="The caller's key", tag="keys", roles=credentials.ROLES, response=Me
)
async def get_me(request: web.Request) -> Me:
    """Return the caller's role and binding."""
    who = principal(request)
    return Me(
        prefix=who.prefix,
        role=who.role,
        name=who.name,
        tenant_id=who.tenant_id,
        operator_id=who.operator_id,
    )


@api.route(
    "POST",
    "/v1/keys",
    summary="Issue an API key",
    tag="keys",
    roles=("admin",),
    body=KeyCreate,
    response=KeyCreated,
    status=201,
    errors=("not_found", "tenant_exists"),
    location="/v1/keys/{prefix}",
)
async def create_key(request: web.Request, body: KeyCreate) -> KeyCreated:
    """Create a key and return it once."""
    pool = request.app[db_key]
    operator_id = body.operator_id
    if operator_id is not None and await operator_store.find_operator(pool, operator_id) is None:
        raise not_found("operator", operator_id)
    try:
        key = await credentials.create_key(
            pool, body.role, body.name, body.operator_id, body.tenant_id
        )
    except credentials.TenantTaken as exc:
        raise Problem(409, "tenant_exists", "Tenant exists", str(exc)) from None
    return KeyCreated(key=key, prefix=credentials.key_prefix(key), role=body.role)


@api.route(
    "GET",
    "/v1/keys",
    summary="List API keys",
    tag="keys",
    roles=("admin",),
    query=KeyQuery,
    response=KeyList,
    errors=("invalid_cursor",),
)
async def list_keys(request: web.Request, query: KeyQuery) -> KeyList:
    """List keys without secrets, newest first, a page at a time."""
    after = decode_time_key(query.cursor)
    found = await credentials.list_keys(request.app[db_key], after, query.limit + 1)
    page = found[: query.limit]
    more = len(found) > query.limit
    return KeyList(
        items=[KeyOut.model_validate(k, from_attributes=True) for k in page],
        next_cursor=encode_time_key(page[-1].created_at, page[-1].prefix) if more else None,
    )


@api.route(
    "DELETE",
    "/v1/keys/{prefix}",
    summary="Revoke an API key",
    tag="keys",
    roles=("admin",),
    status=204,
    errors=("not_found",),
)
async def revoke_key(request: web.Request) -> web.Response:
    """Revoke a key by its prefix."""
    prefix = request.match_info["prefix"]
    if not await credentials.revoke_key(request.app[db_key], prefix):
        raise not_found("active key", prefix)
    # This process stops accepting it now; the others when `maas_cache` tells them.
    request.app[cache_key].changed("api_keys")
    return web.Response(status=204)
