"""Open essential data over the Kuopio demo: stops, departures, routes and the merged GTFS."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import gtfs_kit as gk
import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.appkeys import timetable_key
from gateway.demo.kuopio import KUOPIO_OPERATORS
from gateway.settings import Settings
from gateway.timetable import Timetable
from gtfs.snapshot.open_data import service_period
from tests.conftest import ClientFactory

Client = TestClient[web.Request, web.Application]
TORIKULMA = "kuopion-liikenne:201827"  # Torikulma I, by the market square: where lines end
TEATTERIKULMA = "kuopion-liikenne:201804"  # Teatterikulma I: many lines pass
#: Torikulma I as one place: three operators publish the stop, each under its own prefix.
TORIKULMA_PLACE = "place:201827"


async def _timetable(client: Client) -> Timetable:
    """Wait until the timetable holds the five Kuopio operators' feeds."""
    return await client.app[timetable_key].wait_for(
        lambda t: {op.operator_id for op in KUOPIO_OPERATORS} <= set(t.snapshot.stops.operator_ids),
        timeout_s=30,
    )


@pytest.fixture
async def kuopio(kuopio_demo: str, client: Client) -> Client:
    await _timetable(client)
    return client


async def test_stops_near_a_point_are_nearest_first(kuopio: Client) -> None:
    resp = await kuopio.get("/v1/stops", params={"near": "62.893025,27.6761", "radius_m": "300"})
    assert resp.status == 200
    items = (await resp.json())["items"]
    assert items[0]["id"] == TORIKULMA_PLACE
    distances = [s["distance_m"] for s in items]
    assert distances == sorted(distances)
    assert all(d <= 300 for d in distances)
    # The same physical stop, published by several operators, is listed once, as a place
    # with each operator's stop under it.
    torikulma = items[0]
    members = torikulma["stops"]
    assert TORIKULMA in [m["id"] for m in members]
    assert len({m["operator_id"] for m in members}) == len(members) > 1
    assert {m["name"] for m in members} == {torikulma["name"]}
    assert "operator_id" not in torikulma
    listed = [m["id"] for s in items for m in s.get("stops", [s])]
    assert len(listed) == len(set(listed))
    places = [(s["lat"], s["lon"], s["name"]) for s in items]
    assert len(places) == len(set(places)), "no place is listed twice"


async def test_stops_by_name_and_pages(kuopio: Client) -> None:
    seen: list[str] = []
    params = {"q": "TORI", "limit": "2"}
    while True:
        body = await (await kuopio.get("/v1/stops", params=params)).json()
        assert len(body["items"]) <= 2
        assert all("tori" in s["name"].casefold() for s in body["items"])
        seen += [s["id"] for s in body["items"]]
        if "next_cursor" not in body:
            break
        params["cursor"] = body["next_cursor"]
    assert len(seen) > 2
    assert len(seen) == len(set(seen))
    assert TORIKULMA_PLACE in seen
    assert TORIKULMA not in seen


async def test_stop_detail_names_its_routes(kuopio: Client) -> None:
    resp = await kuopio.get(f"/v1/stops/{TORIKULMA}")
    assert resp.status == 200
    stop = await resp.json()
    assert stop["name"] == "Torikulma I"
    assert stop["zone_id"] == "kuopion-liikenne:A"
    assert stop["route_ids"]
    assert all(r.startswith("kuopion-liikenne:") for r in stop["route_ids"])
    assert (await kuopio.get("/v1/stops/kuopion-liikenne:nope")).status == 404


async def test_departures_are_scheduled_after_the_time_asked(kuopio: Client) -> None:
    at = "2017-01-16T08:00:00+02:00"  # a Monday of the winter timetable
    resp = await kuopio.get(
        f"/v1/stops/{TEATTERIKULMA}/departures", params={"at": at, "limit": "10"}
    )
    assert resp.status == 200
    items = (await resp.json())["items"]
    assert len(items) == 10
    times = [dt.datetime.fromisoformat(d["scheduled_at"]) for d in items]
    assert times == sorted(times)
    assert times[0] >= dt.datetime.fromisoformat(at)
    assert times[-1] - times[0] < dt.timedelta(hours=2)
    assert all(d["realtime"] is False and d["service_day"] == "2017-01-16" for d in items)


async def test_no_departures_where_every_trip_ends(kuopio: Client) -> None:
    at = "2017-01-16T08:00:00+02:00"
    resp = await kuopio.get(f"/v1/stops/{TORIKULMA}/departures", params={"at": at})
    assert (await resp.json())["items"] == []


async def test_departures_need_an_offset(kuopio: Client) -> None:
    resp = await kuopio.get(
        f"/v1/stops/{TORIKULMA}/departures", params={"at": "2017-01-16T08:00:00"}
    )
    assert resp.status == 422


async def test_departures_outside_the_feed_dates_say_so(kuopio: Client) -> None:
    resp = await kuopio.get(
        f"/v1/stops/{TEATTERIKULMA}/departures", params={"at": "2030-01-01T08:00:00+02:00"}
    )
    assert resp.status == 422
    problem = await resp.json()
    assert problem["code"] == "date_outside_service"
    assert "2030-01-01 is outside the timetable's service period 2016-" in problem["detail"]


async def test_departures_the_night_after_the_last_service_day_are_not_refused(
    kuopio: Client,
) -> None:
    snap = (await _timetable(kuopio)).snapshot
    period = service_period(snap)
    assert period is not None
    after = period[1] + dt.timedelta(days=1)
    for day, status in ((after, 200), (after + dt.timedelta(days=1), 422)):
        at = dt.datetime.combine(day, dt.time(0, 30), ZoneInfo(snap.timezone)).isoformat()
        resp = await kuopio.get(f"/v1/stops/{TEATTERIKULMA}/departures", params={"at": at})
        assert resp.status == status, (day, await resp.text())


async def test_a_shared_place_is_a_stop_with_each_operators_stop(kuopio: Client) -> None:
    resp = await kuopio.get(f"/v1/stops/{TORIKULMA_PLACE}")
    assert resp.status == 200
    place = await resp.json()
    assert place["location_type"] == 1
    members = {m["id"]: m for m in place["stops"]}
    assert TORIKULMA in members
    member_routes: set[str] = set()
    for stop_id in members:
        member = await (await kuopio.get(f"/v1/stops/{stop_id}")).json()
        member_routes |= set(member["route_ids"])
    assert set(place["route_ids"]) == member_routes
    assert len({r.split(":")[0] for r in place["route_ids"]}) > 1


async def test_departures_from_a_place_are_every_operators(kuopio: Client) -> None:
    at = "2017-01-16T08:00:00+02:00"
    place = await (await kuopio.get(f"/v1/stops/place:{TEATTERIKULMA.split(':')[1]}")).json()
    resp = await kuopio.get(f"/v1/stops/{place['id']}/departures", params={"at": at, "limit": "40"})
    assert resp.status == 200
    items = (await resp.json())["items"]
    times = [dt.datetime.fromisoformat(d["scheduled_at"]) for d in items]
    assert times == sorted(times)
    assert {d["stop_id"] for d in items} <= {m["id"] for m in place["stops"]}
    for stop_id in {d["stop_id"] for d in items}:
        own = await kuopio.get(f"/v1/stops/{stop_id}/departures", params={"at": at, "limit": "40"})
        own_trips = {d["trip_id"] for d in (await own.json())["items"]}
        assert {d["trip_id"] for d in items if d["stop_id"] == stop_id} <= own_trips
    assert len({d["operator_id"] for d in items}) > 1


async def test_an_unprefixed_stop_id_suggests_the_prefixed_ones(kuopio: Client) -> None:
    resp = await kuopio.get("/v1/stops/201827")
    assert resp.status == 404
    problem = await resp.json()
    assert problem["suggestions"][0] == TORIKULMA_PLACE
    assert TORIKULMA in problem["suggestions"]
    assert "did you mean 'place:201827'" in problem["detail"]
    departures = await (await kuopio.get("/v1/stops/201827/departures")).json()
    assert departures["suggestions"] == problem["suggestions"]
    unknown = await (await kuopio.get("/v1/stops/no-such-stop")).json()
    assert "suggestions" not in unknown


async def test_routes_by_operator(kuopio: Client) -> None:
    body = await (
        await kuopio.get("/v1/routes", params={"operator": "linja-karjala", "limit": "500"})
    ).json()
    assert len(body["items"]) == 8
    assert {r["operator_id"] for r in body["items"]} == {"linja-karjala"}
    route = body["items"][0]
    detail = await (await kuopio.get(f"/v1/routes/{route['id']}")).json()
    assert detail == route
    assert detail["trip_count"] > 0
    assert (await kuopio.get("/v1/routes/linja-karjala:none")).status == 404


async def test_merged_zip_is_one_feed_with_every_operator(kuopio: Client, tmp_path: Path) -> None:
    timetable = await _timetable(kuopio)
    resp = await kuopio.get("/v1/gtfs/merged.zip")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/zip"
    data = await resp.read()
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    path = tmp_path / "merged.zip"
    path.write_bytes(data)
    feed = gk.read_feed(path, dist_units="km")
    assert len(feed.stops) == len(timetable.index.stops)
    assert len(feed.trips) == len(timetable.schedules.trip_ids)
    assert len(feed.stop_times) == len(timetable.schedules.arrival_s)
    assert {op.operator_id for op in KUOPIO_OPERATORS} <= {
        a.split(":")[0] for a in feed.agency["agency_id"]
    }


async def test_open_data_needs_no_key_and_ready_reports_the_timetable(kuopio: Client) -> None:
    assert (await kuopio.get("/v1/routes")).status == 200
    ready = await (await kuopio.get("/ready")).json()
    assert ready["timetable"] == "ok"


async def test_footpaths_link_stops_of_different_operators(kuopio: Client) -> None:
    snapshot = (await _timetable(kuopio)).snapshot
    footpaths = snapshot.footpaths
    origin = np.repeat(np.arange(len(snapshot.stops.ids)), np.diff(footpaths.ptr))
    operators = np.asarray(snapshot.stops.operator_ids)
    across = operators[origin] != operators[footpaths.to_stop]
    assert across.any()
    # The same kerb published by two operators: linked at (nearly) zero distance.
    assert (footpaths.distance_m[across] < 1.0).any()


async def test_network_geojson_draws_routes_and_served_stops(kuopio: Client) -> None:
    await _timetable(kuopio)
    # Other tests publish feeds into the same database: compare with the timetable the
    # answer was built from (its generation is in the ETag).
    for _ in range(5):
        resp = await kuopio.get("/v1/network.geojson")
        timetable = kuopio.app[timetable_key].get()
        if resp.headers["ETag"] == f'"network-{timetable.generation}"':
            break
    assert resp.status == 200
    assert resp.content_type == "application/geo+json"
    network = await resp.json(content_type="application/geo+json")
    snap = timetable.snapshot
    assert network["type"] == "FeatureCollection"
    kinds: dict[str, list[dict]] = {"stop": [], "route": []}  # type: ignore[type-arg]
    for feature in network["features"]:
        kinds[feature["properties"]["kind"]].append(feature)
    # Every served stop once: alone, or under the one point of the place operators share.
    listed = [
        i for f in kinds["stop"] for i in f["properties"].get("stop_ids", [f["properties"]["id"]])
    ]
    assert sorted(listed) == sorted(snap.stops.ids[i] for i in np.unique(snap.trips.stop))
    planned = snap.patterns.trips  # trips the planner runs (some may be dropped)
    served = {snap.routes.ids[r] for r in set(snap.trips.route[planned].tolist())}
    assert {f["properties"]["id"] for f in kinds["route"]} == served
    kuopio_operators = {op.operator_id for op in KUOPIO_OPERATORS}
    for feature in kinds["route"]:
        coordinates = feature["geometry"]["coordinates"]
        assert len(coordinates) >= 2
        if feature["properties"]["operator_id"] in kuopio_operators:
            # GeoJSON is [lon, lat]: Kuopio lies near 27.7 E, 62.9 N.
            assert all(26 < lon < 30 and 62 < lat < 64 for lon, lat in coordinates)
    service = network["service"]
    assert service["timezone"] == "Europe/Helsinki"
    assert service["first_date"] <= "2017-03-14" <= service["last_date"]


async def test_map_page_is_served_with_its_assets_and_tile_settings(
    aiohttp_client: ClientFactory, settings: Settings
) -> None:
    tiles = "https://tiles.example/{z}/{x}/{y}.png"
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"map_tiles": tiles, "map_attribution": "</script>"}))
    )
    resp = await client.get("/map")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = await resp.text()
    assert '"tiles":"https://tiles.example/{z}/{x}/{y}.png"' in page
    assert "<\\/script>" in page  # a setting cannot close the page's script element
    for asset in ("/map/static/leaflet/leaflet.js", "/map/static/leaflet/leaflet.css"):
        assert asset in page
        assert (await client.get(asset)).status == 200
    for api_path in ("/v1/network.geojson", "/v1/vehicles", "/v1/journeys"):
        assert api_path in page
