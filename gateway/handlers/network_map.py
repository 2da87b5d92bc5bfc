"""`/map`: the network, live vehicles and journeys on a map, a page for people."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.api import api
from gateway.appkeys import settings_key, timetable_key
from gateway.problems import Problem
from gateway.timetable import Timetable
from gtfs.snapshot.service_area import service_area

_MAP_PAGE = (Path(__file__).parent.parent / "static" / "map.html").read_text(encoding="utf-8")


class MapQuery(BaseModel):
    """Which operator's network the map opens on (default: every operator's)."""

    model_config = ConfigDict(extra="forbid")

    operator: str | None = Field(
        default=None, description="open on this operator's network, e.g. `kuopion-liikenne`"
    )


#: The map opens on the stops served in this many days from today.
MAP_SERVICE_DAYS = 7


def _map_bounds(timetable: Timetable, operator_id: str | None) -> list[list[float]] | None:
    """Return [[south, west], [north, east]] of the stops with service in the coming days."""
    snap = timetable.snapshot
    today = dt.datetime.now(ZoneInfo(snap.timezone)).date().toordinal()
    box = service_area(snap, today, MAP_SERVICE_DAYS, operator_id)
    return [[box[0], box[1]], [box[2], box[3]]] if box is not None else None


@api.route(
    "GET",
    "/map",
    summary="The network, live vehicles and journeys on a map (a page for people)",
    tag="open data",
    query=MapQuery,
    media_types=("text/html",),
)
async def network_map(request: web.Request, query: MapQuery) -> web.Response:
    """Serve the map page, opening on the area with service in the coming days."""
    settings = request.app[settings_key]
    try:
        timetable = request.app[timetable_key].get()
    except Problem:  # still loading: the page then fits whatever network it draws
        bounds = None
    else:
        bounds = await asyncio.to_thread(_map_bounds, timetable, query.operator)
    config = {
        "tiles": settings.map_tiles,
        "attribution": settings.map_attribution,
        "bounds": bounds,
        "operator": query.operator,
    }
    # Inside <script>, "</" could end the element: JSON allows writing it as "<\/".
    page = _MAP_PAGE.replace("{{CONFIG}}", orjson.dumps(config).decode().replace("</", "<\\/"))
    return web.Response(text=page, content_type="text/html")
