"""Fares are matched against the operator's current timetable, however either was published
(issue 18, defects 1-3), on the real Transcollines feed and test fares over its real trips."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.appkeys import fares_key
from operators.fares.engine import price_itinerary
from operators.fares.matching import Leg
from tests.conftest import bearer
from tests.operators.fares.transcollines import (
    fares_only_zip,
    feed_zip,
    read_member,
    ride,
)

Client = TestClient[web.Request, web.Application]
MakeKey = Callable[..., Awaitable[str]]
WEDNESDAY = date(2026, 1, 7)
SATURDAY = date(2026, 1, 10)
PEAK_FARES = {
    "fare_products.txt": "fare_product_id,amount,currency\nbase,5.00,CAD\npeak,6.00,CAD\n",
    "timeframes.txt": (
        "timeframe_group_id,start_time,end_time,service_id\n"
        "peak,06:00:00,09:00:00,20260105-Semaine-01\n"
    ),
    "fare_leg_rules.txt": (
        "network_id,from_timeframe_group_id,fare_product_id,rule_priority\n"
        "REG,peak,peak,1\nREG,,base,0\n"
    ),
}


class Operator:
    """An operator created through the API (default zone: Europe/Helsinki) and its admin."""

    def __init__(self, client: Client, db: asyncpg.Pool, admin: dict[str, str]) -> None:
        self.client, self.db, self.admin = client, db, admin
        self.id = f"tc-{uuid.uuid4().hex[:6]}"

    async def create(self) -> Operator:
        body = {"id": self.id, "name": "Transcollines"}
        resp = await self.client.post("/v1/operators", json=body, headers=self.admin)
        assert resp.status == 201, await resp.text()
        return self

    async def put(self, what: str, body: bytes, status: int = 201) -> dict[str, Any]:
        resp = await self.client.put(
            f"/v1/operators/{self.id}/{what}", data=body, headers=self.admin
        )
        assert resp.status == status, await resp.text()
        answer: dict[str, Any] = await resp.json(content_type=None)
        return answer

    async def price(self, *legs: Leg) -> int:
        """Price legs with the fares the gateway would sell with now."""
        fares = await self.client.app[fares_key].current(self.db)
        return price_itinerary(legs, fares).total_minor


async def operator(client: Client, db: asyncpg.Pool, make_key: MakeKey) -> Operator:
    return await Operator(client, db, bearer(await make_key("admin"))).create()


def messages(answer: dict[str, Any]) -> list[str]:
    return [w["message"] for w in answer["warnings"]]


async def test_real_fares_published_alone_use_the_stored_network_calendar_and_zone(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    op = await operator(client, db, make_key)
    await op.put("feed", feed_zip())
    published = await op.put("fares", fares_only_zip())  # was 422: 'REG' is not defined
    assert any("'America/Montreal' differs" in m for m in messages(published))
    # 17:50 on the last Sunday of the fares' service: already Monday in Helsinki.
    assert (
        await op.price(ride("20260420-Weekend-01-924-0-1750", date(2026, 8, 23), operator=op.id))
        == 500
    )


async def test_a_weekday_timeframe_of_fares_published_alone_does_not_apply_on_saturday(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    op = await operator(client, db, make_key)
    await op.put("feed", feed_zip())
    await op.put("fares", fares_only_zip(PEAK_FARES))
    assert await op.price(ride("20260105-Semaine-01-931-0-0720", WEDNESDAY, operator=op.id)) == 600
    assert await op.price(ride("20260105-Weekend-01-924-1-0755", SATURDAY, operator=op.id)) == 500


def _with_station_and_zone(stops: str) -> str:
    """The real stops, one boarding stop put under a station, one stop in Helsinki's zone."""
    reader = csv.DictReader(io.StringIO(stops))
    rows = list(reader)
    for row in rows:
        if row["stop_id"] == BOARDING:
            row["parent_station"] = "STATION"
        if row["stop_id"] == ALIGHTING:
            row["stop_timezone"] = "Europe/Helsinki"
    station = {"stop_id": "STATION", "stop_name": "Gare", "location_type": "1"}
    rows.append({**station, "stop_lat": "45.5", "stop_lon": "-75.7"})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


BOARDING = "F241-99"
ALIGHTING = "F241-01"


async def test_fares_published_alone_see_the_timetables_stations_and_stop_time_zones(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    op = await operator(client, db, make_key)
    stops = _with_station_and_zone(read_member("stops.txt"))
    await op.put("feed", feed_zip(replace={"stops.txt": stops}))
    await op.put("fares", fares_only_zip(STATION_AND_ZONE_FARES))
    # Boards at a platform whose station is in HUB: the station's area.
    assert await op.price(ride("20260105-Semaine-01-923-1-1625", WEDNESDAY, 48, None, op.id)) == 250
    # Alights at 06:04:10 in Montréal, 13:04:10 at a stop that keeps Helsinki's time.
    assert await op.price(ride("20260105-Semaine-01-923-0-0554", WEDNESDAY, 0, 12, op.id)) == 100


STATION_AND_ZONE_FARES = {
    "fare_products.txt": (
        "fare_product_id,amount,currency\nhub,2.50,CAD\nmidday,1.00,CAD\nbase,5.00,CAD\n"
    ),
    "areas.txt": "area_id\nHUB\n",
    "stop_areas.txt": "area_id,stop_id\nHUB,STATION\n",
    "timeframes.txt": (
        "timeframe_group_id,start_time,end_time,service_id\n"
        "midday,12:00:00,15:00:00,FARES-GT-2026-1\n"
    ),
    "fare_leg_rules.txt": (
        "network_id,from_area_id,to_timeframe_group_id,fare_product_id,rule_priority\n"
        "REG,HUB,,hub,1\nREG,,midday,midday,2\nREG,,,base,0\n"
    ),
}


def _calendar_a_week_longer() -> str:
    calendar = read_member("calendar.txt")
    old = "20260105-Semaine-01,1,1,1,1,1,0,0,20260105,20260417"
    assert old in calendar
    return calendar.replace(old, "20260105-Semaine-01,1,1,1,1,1,0,0,20260105,20260424")


async def test_a_timetable_published_later_reaches_fares_published_in_an_earlier_feed(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    op = await operator(client, db, make_key)
    await op.put("feed", feed_zip(PEAK_FARES))
    # Wednesday 22 April at 07:20: the weekday service has ended, no peak fare yet.
    next_week = ride("20260105-Semaine-01-931-0-0720", date(2026, 4, 22), operator=op.id)
    assert await op.price(next_week) == 500
    await op.put("feed", feed_zip(replace={"calendar.txt": _calendar_a_week_longer()}))
    assert await op.price(next_week) == 600


async def test_a_timetable_the_current_fares_no_longer_cover_is_warned_about_at_upload(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    op = await operator(client, db, make_key)
    await op.put("feed", feed_zip(keep_fares=True))
    calendar = "\n".join(
        line for line in read_member("calendar.txt").splitlines() if "FARES-GT" not in line
    )
    routes = "\n".join(  # route 940 leaves the REG network
        line.removesuffix(",REG") + "," if line.startswith("940,") else line
        for line in read_member("routes.txt").splitlines()
    )
    answer = await op.put(
        "feed", feed_zip(replace={"calendar.txt": calendar, "routes.txt": routes})
    )
    said = messages(answer)
    assert "'FARES-GT-2026-1' is not defined in calendar.txt or calendar_dates.txt" in said
    assert f"1 route(s) have no fare: no fare leg rule covers their network ({op.id}:940)" in said
    assert (
        "225 service day(s) from 2026-01-05 to 2026-08-23 run trips that no fare leg rule's "
        "timeframe covers: legs on them have no fare"
    ) in said
    zone = "'America/Montreal' differs from the operator's configured 'Europe/Helsinki'"
    assert any(zone in m for m in said)
    versions = await (await client.get(f"/v1/operators/{op.id}/feed")).json()
    kept = [w["message"] for w in versions["items"][0]["warnings"]]
    assert set(said) <= set(kept)
    assert op.id in await client.app[fares_key].current(db)  # still loaded, leniently
