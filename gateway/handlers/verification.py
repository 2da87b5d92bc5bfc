"""What an inspector's device fetches to check tickets offline: keys and status lists.

Both are open (the law wants verification keys public), cacheable for a few
minutes, and carry an ETag that is the same in every gateway process, so a
device that asks again with `If-None-Match` gets 304 until something changed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from aiohttp import web

from gateway.api import api
from gateway.appkeys import db_key, settings_key
from sales.revocation import TTL_S, signed_status_list
from sales.settlement import settlement_keys
from sales.signing import jwks_etag, published_keys
from sales.statuslist import MEDIA_TYPE

#: How long a device may use a fetched key set before asking again.
JWKS_MAX_AGE_S = 300


def _conditional(
    request: web.Request, body: bytes, content_type: str, etag: str, max_age_s: int
) -> web.Response:
    """Answer 304 when the client holds this ETag already, else the body with it."""
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age_s}"}
    held = {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}
    if etag in held or "*" in held:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=content_type, headers=headers)


@api.route(
    "GET",
    "/.well-known/jwks.json",
    summary="Public keys that verify tickets offline",
    tag="sales",
    also=((304, "unchanged since the `ETag` sent as `If-None-Match`"),),
)
async def jwks(request: web.Request) -> web.Response:
    """Serve every operator's ticket keys: the next one before it signs, old ones while needed.

    Each key's `iss` names the operator that owns it; a ticket verifies only with a key
    of its own issuer. The gateway's own key (`iss` `maas-gateway`) verifies closed
    settlement statements.
    """
    keys = await published_keys(request.app[db_key], datetime.now(UTC))
    keys["keys"] += await settlement_keys(request.app[db_key])
    body = orjson.dumps(keys)
    return _conditional(request, body, "application/json", jwks_etag(keys), JWKS_MAX_AGE_S)


@api.route(
    "GET",
    "/v1/status-lists/{operator_id}",
    summary="An operator's ticket status list (revocations), a signed token",
    tag="sales",
    media_types=(MEDIA_TYPE,),
    errors=("not_found", "no_signing_key"),
)
async def status_list(request: web.Request) -> web.Response:
    """Serve the operator's status list token: one bit per ticket, set when it is revoked."""
    settings = request.app[settings_key]
    signed = await signed_status_list(
        request.app[db_key],
        request.match_info["operator_id"],
        settings.base_url,
        settings.signing_secret,
        datetime.now(UTC),
    )
    return _conditional(request, signed.token.encode(), MEDIA_TYPE, signed.etag, TTL_S)
