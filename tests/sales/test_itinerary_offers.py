"""Itinerary offers are priced from the timetable (and realtime), never from what a client says."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

from google.transit import gtfs_realtime_pb2

from gateway.appkeys import db_key, fares_key, timetable_key
from gtfs.tables import original_id
from sales.itineraries import sales_close
from sales.offers import OFFER_TTL, create_offer
from sales.rides import Schedule
from sales.schemas import OfferCreate
from tests.conftest import bearer
from tests.sales.live import (
    TEATTERIKULMA,
    Client,
    a_ride,
    journeys,
    next_weekday,
    post_offer,
    ride_request,
)

MakeKey = Callable[..., Awaitable[str]]
MARGIN = dt.timedelta(minutes=15)
#: From Teatterikulma, reached with a change of bus (lines 7 then 20 on weekday mornings).
TRANSFER_TO = "kuopion-liikenne:201739"


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _one_leg(leg: dict[str, Any], travellers: int = 1) -> dict[str, Any]:
    return {
        "itinerary": {"legs": [ride_request(leg)]},
        "travellers": [{"rider_category": "adult"}] * travellers,
    }


async def test_an_itinerary_offer_takes_times_route_and_validity_from_the_timetable(
    live: Client, live_key: MakeKey
) -> None:
    leg = await a_ride(live)
    status, offer = await post_offer(live, await live_key("maas"), _one_leg(leg))
    assert status == 201, offer
    (priced,) = offer["legs"]
    assert (priced["trip_id"], priced["route_id"]) == (leg["trip_id"], leg["route_id"])
    assert priced["operator_id"] == leg["operator_id"]
    assert priced["service_date"] == leg["service_date"]
    assert _at(priced["valid_from"]) == _at(leg["departure"]) - MARGIN
    assert _at(priced["valid_until"]) == _at(leg["arrival"]) + MARGIN
    assert priced["price_minor"] > 0
    assert priced["zones"]


async def test_claimed_times_stops_and_route_are_refused(live: Client, live_key: MakeKey) -> None:
    leg = await a_ride(live)
    body = _one_leg(leg)
    claimed = body["itinerary"]["legs"][0] | {
        "route_id": leg["route_id"],
        "departure": leg["departure"],
        "arrival": (_at(leg["arrival"]) + dt.timedelta(days=3)).isoformat(),
    }
    body["itinerary"]["legs"] = [claimed]
    status, problem = await post_offer(live, await live_key("maas"), body)
    assert status == 422
    assert {e["field"] for e in problem["errors"]} == {
        "body.itinerary.legs[0].route_id",
        "body.itinerary.legs[0].departure",
        "body.itinerary.legs[0].arrival",
    }


async def test_a_trip_that_does_not_run_on_the_service_date_is_refused(
    live: Client, live_key: MakeKey
) -> None:
    leg = await a_ride(live)  # a weekday trip
    body = _one_leg(leg)
    sunday = next_weekday(8, weekday=6).date()
    body["itinerary"]["legs"][0]["service_date"] = sunday.isoformat()
    status, problem = await post_offer(live, await live_key("maas"), body)
    assert (status, problem["code"]) == (422, "trip_not_running")
    assert "itinerary.legs[0]" in problem["detail"]


async def test_stops_the_trip_does_not_serve_in_that_order_are_refused(
    live: Client, live_key: MakeKey
) -> None:
    leg = await a_ride(live)
    key = await live_key("maas")
    backwards = _one_leg(leg)
    request = backwards["itinerary"]["legs"][0]
    request["from_stop_id"], request["to_stop_id"] = request["to_stop_id"], request["from_stop_id"]
    status, problem = await post_offer(live, key, backwards)
    assert (status, problem["code"]) == (422, "stops_not_on_trip")
    elsewhere = _one_leg(leg)
    elsewhere["itinerary"]["legs"][0]["to_stop_id"] = "kuopion-liikenne:201553"
    status, problem = await post_offer(live, key, elsewhere)
    assert (status, problem["code"]) == (422, "stops_not_on_trip")


async def test_an_unknown_trip_is_not_found(live: Client, live_key: MakeKey) -> None:
    leg = await a_ride(live)
    body = _one_leg(leg)
    body["itinerary"]["legs"][0]["trip_id"] = "kuopion-liikenne:no-such-trip"
    status, problem = await post_offer(live, await live_key("maas"), body)
    assert (status, problem["code"]) == (404, "not_found")


async def test_a_run_that_has_left_gets_no_offer(live: Client, live_key: MakeKey) -> None:
    leg = await a_ride(live)
    body = _one_leg(leg)
    week_before = dt.date.fromisoformat(leg["service_date"]) - dt.timedelta(days=7)
    body["itinerary"]["legs"][0]["service_date"] = week_before.isoformat()
    status, problem = await post_offer(live, await live_key("maas"), body)
    assert (status, problem["code"]) == (422, "departed")


async def test_a_trip_past_midnight_belongs_to_the_previous_service_day(
    live: Client, live_key: MakeKey
) -> None:
    # Line 20's last Friday run leaves at 23:50 and reaches Torikulma at 24:11.
    saturday = next_weekday(0, 0, weekday=5)
    found = await journeys(live, "kuopion-liikenne:201553", "kuopion-liikenne:201827", saturday)
    legs = [leg for j in found for leg in j["legs"] if leg["mode"] == "transit"]
    late = next(leg for leg in legs if "Pe_2350" in leg["trip_id"])
    friday = (saturday - dt.timedelta(days=1)).date()
    assert late["service_date"] == friday.isoformat()
    status, offer = await post_offer(live, await live_key("maas"), _one_leg(late))
    assert status == 201, offer
    (priced,) = offer["legs"]
    assert priced["service_date"] == friday.isoformat()
    assert _at(priced["valid_until"]) == saturday + dt.timedelta(minutes=11) + MARGIN


def _trip_update(trip_id: str, day: dt.date, *, delay_s: int = 0, cancel: bool = False) -> bytes:
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = int(time.time())
    update = message.entity.add(id=f"tu-{original_id(trip_id)}").trip_update
    update.trip.trip_id = original_id(trip_id)
    update.trip.start_date = day.strftime("%Y%m%d")
    if cancel:
        update.trip.schedule_relationship = gtfs_realtime_pb2.TripDescriptor.CANCELED
    else:
        stop = update.stop_time_update.add(stop_sequence=1)
        stop.arrival.delay = stop.departure.delay = delay_s
    return message.SerializeToString()


async def _push(live: Client, key: str, leg: dict[str, Any], data: bytes) -> None:
    resp = await live.post(
        f"/v1/operators/{leg['operator_id']}/realtime/trip-updates",
        data=data,
        headers=bearer(key) | {"Content-Type": "application/x-protobuf"},
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["accepted_count"] == 1


async def test_realtime_moves_the_times_and_refuses_a_cancelled_run(
    live: Client, live_key: MakeKey
) -> None:
    leg = await a_ride(live, next_weekday(9, 5))
    day = dt.date.fromisoformat(leg["service_date"])
    admin, maas = await live_key("admin"), await live_key("maas")
    await _push(live, admin, leg, _trip_update(leg["trip_id"], day, delay_s=600))
    status, offer = await post_offer(live, maas, _one_leg(leg))
    assert status == 201, offer
    (priced,) = offer["legs"]
    assert _at(priced["valid_until"]) == _at(leg["arrival"]) + dt.timedelta(minutes=10) + MARGIN
    await _push(live, admin, leg, _trip_update(leg["trip_id"], day, cancel=True))
    status, problem = await post_offer(live, maas, _one_leg(leg))
    assert (status, problem["code"]) == (422, "trip_cancelled")


async def test_a_connection_realtime_has_broken_is_refused_as_missed_not_as_out_of_order(
    live: Client, live_key: MakeKey
) -> None:
    when = next_weekday(8)
    found = await journeys(live, TEATTERIKULMA, TRANSFER_TO, when)
    journey = next(j for j in found if len([g for g in j["legs"] if g["mode"] == "transit"]) >= 2)
    first, second = [g for g in journey["legs"] if g["mode"] == "transit"][:2]
    body = {
        "itinerary": {"legs": [ride_request(first), ride_request(second)]},
        "travellers": [{"rider_category": "adult"}],
    }
    maas = await live_key("maas")
    status, offer = await post_offer(live, maas, body)
    assert status == 201, offer
    gap_s = (_at(second["departure"]) - _at(first["arrival"])).total_seconds()
    day = dt.date.fromisoformat(first["service_date"])
    late = _trip_update(first["trip_id"], day, delay_s=int(gap_s) + 300)
    await _push(live, await live_key("admin"), first, late)
    status, problem = await post_offer(live, maas, body)
    assert (status, problem["code"]) == (409, "connection_missed"), problem
    assert "itinerary.legs[1]" in problem["detail"]
    assert "realtime" in problem["detail"]


async def test_an_offer_is_sold_only_until_its_first_ride_departs(live: Client) -> None:
    # An offer asked for just before the bus leaves must not be bookable once it has left:
    # a traveller could board first and pay only when an inspector comes.
    leg = await a_ride(live)
    departure = _at(leg["departure"])
    app = live.app
    assert app is not None
    pool = app[db_key]
    fares = await app[fares_key].current(pool)
    schedule = Schedule(app[timetable_key].get().snapshot, {})
    body = OfferCreate.model_validate(_one_leg(leg))
    soon = await create_offer(pool, "t-close", body, fares, schedule, now=departure - MARGIN / 3)
    assert soon.valid_until == departure
    early = departure - dt.timedelta(hours=2)
    assert (await create_offer(pool, "t-close", body, fares, schedule, now=early)).valid_until == (
        early + OFFER_TTL
    )
    # A booking's hold for confirmation ends there too.
    held = early + dt.timedelta(hours=3)
    assert sales_close([offer_leg.model_dump() for offer_leg in soon.legs], held) == departure
    assert sales_close([{"valid_from": early, "trip_id": None}], held) == held  # a product
