"""Itinerary offers: every leg a ride the timetable has, priced with the operators' fare rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from operators.fares.engine import ItineraryPrice, LegPrice, price_itinerary
from operators.fares.matching import Leg, areas_of
from operators.fares.model import FareError, FareFeed, ImpossibleItinerary
from sales.conditions import OperatorTerms
from sales.errors import ConnectionMissed, Departed, NoFare, NotASequence
from sales.products import fares_of
from sales.rides import Ride, Schedule, find_ride
from sales.schemas import ItineraryOfferRequest, OfferLeg, Traveller

#: An itinerary leg's ticket is valid from a little before departure to a little after arrival.
BOARDING_MARGIN = timedelta(minutes=15)


def sales_close(legs: Iterable[Mapping[str, Any]], otherwise: datetime) -> datetime:
    """Return when selling these offer legs stops: at the first ride's departure, if sooner.

    Nothing is sold for a ride that has left: an offer cannot be booked, nor a booking held
    for confirmation, past it (a traveller could otherwise board first and pay only when
    an inspector comes). A leg's departure is its validity start plus the boarding margin.
    """
    departures = [
        _instant(leg["valid_from"]) + BOARDING_MARGIN for leg in legs if leg.get("trip_id")
    ]
    return min([otherwise, *departures])


def _instant(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def find_rides(request: ItineraryOfferRequest, schedule: Schedule, now: datetime) -> list[Ride]:
    """Return every leg as the timetable has it (never one that has left)."""
    rides = []
    for i, leg in enumerate(request.legs):
        where = f"itinerary.legs[{i}]"
        ride = find_ride(
            schedule, leg.trip_id, leg.service_date, leg.from_stop_id, leg.to_stop_id, where
        )
        if ride.departure < now:
            raise Departed(f"{where}: departed at {ride.departure.isoformat()}")
        rides.append(ride)
    _check_connections(rides)
    return rides


def _check_connections(rides: list[Ride]) -> None:
    """Refuse a journey that realtime has broken: a late leg arriving after the next leaves.

    Legs out of order in the timetable itself stay the fare engine's `NotASequence`.
    """
    for i in range(1, len(rides)):
        before, ride = rides[i - 1], rides[i]
        if ride.departure < before.arrival and (before.realtime or ride.realtime):
            raise ConnectionMissed(
                f"itinerary.legs[{i}]: leaves at {ride.departure.isoformat()}, but "
                f"itinerary.legs[{i - 1}] now arrives at {before.arrival.isoformat()} (realtime)"
            )


def _price_for(
    rides: list[Ride],
    traveller: Traveller,
    fares: Mapping[str, FareFeed],
    media: str | None,
    i: int,
) -> ItineraryPrice:
    legs = [
        Leg(
            r.operator_id,
            r.route_id,
            r.from_stop_id,
            r.to_stop_id,
            r.departure,
            r.arrival,
            traveller.rider_category,
        )
        for r in rides
    ]
    try:
        return price_itinerary(legs, fares, fare_media_id=media)
    except ImpossibleItinerary as exc:
        raise NotASequence(f"itinerary.legs[{exc.leg_index}]: {exc.reason}") from exc
    except FareError as exc:
        raise NoFare(f"travellers[{i}]: {exc}") from exc


def _offer_leg(
    position: int,
    ride: Ride,
    prices: list[LegPrice],
    travellers: list[Traveller],
    feed: FareFeed,
    terms: OperatorTerms,
) -> OfferLeg:
    """Return one ride's part of an offer: its price for every traveller, validity, conditions."""
    first = next((p.charges[0] for p in prices if p.charges), None)
    product_id = first.fare_product_id if first else None
    return OfferLeg(
        position=position,
        operator_id=ride.operator_id,
        product_id=product_id,
        product_name=first.fare_product_name if first else None,
        rider_categories=[
            p.charges[0].rider_category_id if p.charges else t.rider_category
            for p, t in zip(prices, travellers, strict=True)
        ],
        price_minor=sum(p.price_minor for p in prices),
        currency=prices[0].currency,
        valid_from=ride.departure - BOARDING_MARGIN,
        valid_until=ride.arrival + BOARDING_MARGIN,
        conditions=terms.for_product(product_id).conditions(ride.departure),
        trip_id=ride.trip_id,
        service_date=ride.service_date,
        route_id=ride.route_id,
        from_stop_id=ride.from_stop_id,
        to_stop_id=ride.to_stop_id,
        zones=sorted(areas_of(feed, ride.from_stop_id) | areas_of(feed, ride.to_stop_id)),
    )


def price_rides(
    rides: list[Ride],
    travellers: list[Traveller],
    fares: Mapping[str, FareFeed],
    terms: Mapping[str, OperatorTerms],
    fare_media_id: str | None = None,
) -> list[OfferLeg]:
    """Price every ride for every traveller: validity from the timetable, operators' conditions."""
    per_traveller = [
        _price_for(rides, t, fares, fare_media_id, i) for i, t in enumerate(travellers)
    ]
    return [
        _offer_leg(
            position,
            ride,
            [p.legs[position] for p in per_traveller],
            travellers,
            fares_of(fares, ride.operator_id),
            terms[ride.operator_id],
        )
        for position, ride in enumerate(rides)
    ]
