"""Trip flows: travellers' consents and rights (maas keys), releases and the ledger (planners)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from flows import consent, errors, rights
from flows.exports import FORMATS, export
from flows.ledger import ledger, load_release
from flows.releases import ReleaseRequest, create_release, list_releases
from flows.schemas import (
    REF_PATTERN,
    ConsentReceipt,
    DistrictsCreate,
    Ledger,
    Release,
    ReleaseCreate,
    ReleaseDetail,
    ReleaseList,
    ReleaseListQuery,
    ReleaseQuery,
    TravellerData,
    ZoneList,
    ZoneSystem,
    ZoneSystemList,
)
from flows.zones import create_districts, list_zone_systems, list_zones
from gateway.api import api, principal
from gateway.appkeys import db_key, flows_key, settings_key
from gateway.credentials import Role
from gateway.problems import Problem

PLANNERS: tuple[Role, ...] = ("planner", "admin")
# Route patterns cannot hold `{n}` quantifiers (the OpenAPI path would break); length is checked.
TRAVELLER = "/v1/travellers/{ref:[A-Za-z0-9._:-]+}"
CONSENT = TRAVELLER + "/consents/{purpose:trip-statistics}"


def _ref(request: web.Request) -> str:
    ref = request.match_info["ref"]
    if re.fullmatch(REF_PATTERN, ref) is None:
        raise Problem(
            422, "validation_failed", "Validation failed", "path.ref: at most 64 characters"
        )
    return ref


def _tenant(request: web.Request) -> str:
    tenant = principal(request).tenant_id
    if tenant is None:  # the maas role always has a tenant (a database CHECK)
        raise Problem(403, "forbidden", "Forbidden", "this key has no tenant")
    return tenant


@api.route(
    "PUT",
    CONSENT,
    summary="Record the traveller's consent to a purpose; returns a consent receipt",
    tag="travellers",
    roles=("maas",),
    response=ConsentReceipt,
)
async def grant_consent(request: web.Request) -> ConsentReceipt:
    """Grant (a repeated grant keeps the first time; each call appends a receipt)."""
    receipt = await consent.grant(
        request.app[db_key],
        request.app[flows_key].controller,
        _tenant(request),
        _ref(request),
        request.match_info["purpose"],
    )
    return ConsentReceipt.model_validate(receipt.document)


@api.route(
    "DELETE",
    CONSENT,
    summary="Withdraw the traveller's consent; their trip records go at once",
    tag="travellers",
    roles=("maas",),
    response=ConsentReceipt,
    errors=("not_found",),
)
async def withdraw_consent(request: web.Request) -> ConsentReceipt:
    """Withdraw; later releases never count the traveller."""
    receipt = await consent.withdraw(
        request.app[db_key],
        request.app[flows_key].controller,
        _tenant(request),
        _ref(request),
        request.match_info["purpose"],
    )
    return ConsentReceipt.model_validate(receipt.document)


@api.route(
    "GET",
    TRAVELLER + "/data",
    summary="Everything stored about the traveller, with legal bases (portable JSON)",
    tag="travellers",
    roles=("maas",),
    response=TravellerData,
    errors=("not_found",),
)
async def traveller_data(request: web.Request) -> TravellerData:
    """Export consents, receipts, trip records still linkable and bookings."""
    data = await rights.export_data(request.app[db_key], _tenant(request), _ref(request))
    return TravellerData.model_validate(data)


@api.route(
    "DELETE",
    TRAVELLER,
    summary="Erase the traveller: consents and trip records go, bookings lose the reference",
    tag="travellers",
    roles=("maas",),
    response=ConsentReceipt,
    errors=("not_found",),
)
async def erase_traveller(request: web.Request) -> ConsentReceipt:
    """Erase at once; returns the receipt appended to the audit log."""
    receipt = await rights.erase(
        request.app[db_key],
        request.app[flows_key].controller,
        _tenant(request),
        _ref(request),
    )
    return ConsentReceipt.model_validate(receipt.document)


@api.route(
    "POST",
    "/v1/flows/releases",
    summary="Release a closed period's trip flows (k-anonymous, optionally with DP noise)",
    tag="flows",
    roles=PLANNERS,
    body=ReleaseCreate,
    response=Release,
    status=201,
    location="/v1/flows/releases/{id}",
    errors=(
        "unknown_zone_system",
        "period_not_closed",
        "period_purged",
        "budget_exceeded",
        "inconsistent_release",
        "zone_system_too_new",
        "release_too_large",
    ),
)
async def post_release(request: web.Request, body: ReleaseCreate) -> Release:
    """Make an immutable release; epsilon is charged to the period's budget."""
    caller = principal(request)
    ask = ReleaseRequest(
        body.period, body.zone_system, body.bucket, tuple(sorted(set(body.breakdown))), body.epsilon
    )
    pool = request.app[db_key]
    release_id = await create_release(
        pool, ask, f"{caller.name} ({caller.prefix})", request.app[flows_key]
    )
    release = await load_release(pool, release_id)
    return Release.model_validate(release.metadata)


@api.route(
    "GET",
    "/v1/flows/releases",
    summary="Every release, newest first",
    tag="flows",
    roles=PLANNERS,
    query=ReleaseListQuery,
    response=ReleaseList,
)
async def get_releases(request: web.Request, query: ReleaseListQuery) -> ReleaseList:
    """List releases (their parameters and counts, not their cells)."""
    items = await list_releases(request.app[db_key], query.period)
    return ReleaseList(items=[Release.model_validate(i) for i in items])


_ACCEPT = {media: name for name, media in FORMATS.items()}


def _format(request: web.Request, query: ReleaseQuery) -> str:
    if query.format is not None:
        return query.format
    for part in request.headers.get("Accept", "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in _ACCEPT:
            return _ACCEPT[media]
    return "json"


@api.route(
    "GET",
    "/v1/flows/releases/{id:[0-9a-fA-F-]+}",
    summary="A release: JSON, or CSV, GeoJSON, Parquet, flowmap.blue or Visum ($O)",
    tag="flows",
    roles=PLANNERS,
    query=ReleaseQuery,
    response=ReleaseDetail,
    media_types=tuple(FORMATS.values()),
    errors=("not_found", "unsupported_export"),
)
async def get_release(
    request: web.Request, query: ReleaseQuery
) -> web.StreamResponse | ReleaseDetail:
    """Serve a release in the format asked for (`format=` wins over `Accept`)."""
    try:
        release_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise errors.ReleaseNotFound(f"release {request.match_info['id']} does not exist") from None
    release = await load_release(request.app[db_key], release_id)
    fmt = _format(request, query)
    if fmt == "json":
        cells = [
            {"origin": o, "destination": d, "bucket": b, "mode": m, "operator": op, "count": n}
            for (o, d, b, m, op), n in sorted(release.cells.items())
        ]
        return ReleaseDetail.model_validate(
            {**release.metadata, "zones": release.zones, "cells": cells}
        )
    body = export(release, fmt, query.bucket, query.mode, query.operator)
    name = f"flows-{release.metadata['period']}-{release_id}"
    suffix = {"flowmap": "flowmap.zip", "visum": "mtx", "geojson": "geojson"}.get(fmt, fmt)
    return web.Response(
        body=body,
        content_type=FORMATS[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{suffix}"',
            "Vary": "Accept",
        },
    )


@api.route(
    "GET",
    "/v1/flows/ledger",
    summary="The privacy-budget ledger: every period's budget and every release",
    tag="flows",
    roles=PLANNERS,
    response=Ledger,
)
async def get_ledger(request: web.Request) -> Ledger:
    """Return per period the budget, what was spent, and who released what, when."""
    return Ledger.model_validate({"periods": await ledger(request.app[db_key])})


@api.route(
    "GET",
    "/v1/flows/zone-systems",
    summary="The zone systems releases can be made on",
    tag="flows",
    roles=PLANNERS,
    response=ZoneSystemList,
)
async def get_zone_systems(request: web.Request) -> ZoneSystemList:
    """List fare zones, H3 resolutions 7 and 8 and the uploaded districts."""
    return ZoneSystemList.model_validate({"items": await list_zone_systems(request.app[db_key])})


@api.route(
    "GET",
    "/v1/flows/zone-systems/{id}",
    summary="Every zone of a zone system, with outlines and centroids",
    tag="flows",
    roles=PLANNERS,
    response=ZoneList,
    errors=("unknown_zone_system",),
)
async def get_zone_system(request: web.Request) -> ZoneList:
    """Publish a zone system's full list of zones."""
    system_id = request.match_info["id"]
    zones = await list_zones(request.app[db_key], system_id)
    return ZoneList.model_validate(
        {"zone_system": system_id, "zones": [z.as_json() for z in zones]}
    )


@api.route(
    "POST",
    "/v1/flows/zone-systems",
    summary="Upload districts (GeoJSON polygons) as a new zone system",
    tag="flows",
    roles=PLANNERS,
    body=DistrictsCreate,
    response=ZoneSystem,
    status=201,
    location="/v1/flows/zone-systems/{id}",
    errors=("invalid_zones", "built_in_zone_system", "zone_system_exists"),
)
async def post_zone_system(request: web.Request, body: DistrictsCreate) -> ZoneSystem:
    """Store districts once; trips recorded from then on carry their district."""
    pool = request.app[db_key]
    await create_districts(pool, body.id, body.name, body.geojson)
    systems = {s["id"]: s for s in await list_zone_systems(pool)}
    return ZoneSystem.model_validate(systems[body.id])


_PAGE = (Path(__file__).parent.parent / "static" / "flows.html").read_text(encoding="utf-8")


@api.route(
    "GET",
    "/map/flows",
    summary="A release on a map, for planners (the page asks for a planner key)",
    tag="flows",
    media_types=("text/html",),
)
async def flows_map(request: web.Request) -> web.Response:
    """Serve the flow-map page; it reads releases with the planner's key, in the browser."""
    settings = request.app[settings_key]
    config: dict[str, Any] = {"tiles": settings.map_tiles, "attribution": settings.map_attribution}
    page = _PAGE.replace("{{CONFIG}}", orjson.dumps(config).decode().replace("</", "<\\/"))
    return web.Response(text=page, content_type="text/html")
