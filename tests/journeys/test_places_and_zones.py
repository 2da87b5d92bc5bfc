"""Journeys on real feeds: a change at a stop operators share is a transfer, not a walk; each
leg's times are in its operator's time zone."""

from __future__ import annotations

import datetime as dt
import random
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from gtfs.snapshot.build import Snapshot, build_snapshot
from gtfs.tables import concat
from journeys.errors import InvalidQueryError, JourneyError
from journeys.itinerary import Itinerary, TransitLeg, WalkLeg
from journeys.planner import Coordinates, JourneyQuery, Planner
from tests.journeys import feeds
from tests.journeys.conftest import KUOPIO_DAY

HELSINKI = ZoneInfo("Europe/Helsinki")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def _at(day: dt.date, hour: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), zone)


def _changes_at_a_place(itinerary: Itinerary) -> list[tuple[TransitLeg, TransitLeg]]:
    rides = [leg for leg in itinerary.legs if isinstance(leg, TransitLeg)]
    return [
        (a, b)
        for a, b in pairwise(rides)
        if a.to_place.stop_id != b.from_place.stop_id
        and a.to_place.place_id is not None
        and a.to_place.place_id == b.from_place.place_id
    ]


def test_a_change_between_operators_at_a_shared_stop_is_a_transfer(
    kuopio_planner: Planner, kuopio_snapshot: Snapshot
) -> None:
    found = kuopio_planner.plan(
        JourneyQuery(
            "kuopion-liikenne:178565",
            "e-ahonen:174252",
            depart_at=_at(KUOPIO_DAY, 8, HELSINKI),
            window_s=1800,
        )
    )
    changes = [c for it in found for c in _changes_at_a_place(it)]
    assert changes, "some journey changes operator at a stop they share"
    walking = kuopio_snapshot.walking
    for before, after in changes:
        assert before.operator_id != after.operator_id
        assert after.transfer_s is not None
        assert after.transfer_s >= walking.min_transfer_s
        assert after.departure >= before.arrival + dt.timedelta(seconds=after.transfer_s)


def test_no_journey_walks_between_copies_of_one_stop(
    kuopio_planner: Planner, kuopio_snapshot: Snapshot
) -> None:
    stops = list(kuopio_snapshot.stops.ids)
    pick = random.Random(10)  # a fixed sample of real stop pairs
    planned = 0
    for _ in range(60):
        a, b = pick.sample(stops, 2)
        try:
            found = kuopio_planner.plan(
                JourneyQuery(a, b, depart_at=_at(KUOPIO_DAY, 9, HELSINKI), window_s=1200)
            )
        except JourneyError:
            continue
        planned += bool(found)
        for leg in (leg for it in found for leg in it.legs if isinstance(leg, WalkLeg)):
            same = leg.from_place.place_id is not None and (
                leg.from_place.place_id == leg.to_place.place_id
            )
            assert not same, (a, b, leg)
    assert planned > 20


def test_a_journey_from_one_copy_boards_the_others_without_walking(
    kuopio_planner: Planner, kuopio_snapshot: Snapshot
) -> None:
    places, stops = kuopio_snapshot.places, kuopio_snapshot.stops
    checked = 0
    for p in range(len(places.ids)):
        members = places.members_of(p)
        origin = stops.ids[members[0]]
        found = (
            kuopio_planner.plan(
                JourneyQuery(
                    origin, "kuopion-liikenne:201827", depart_at=_at(KUOPIO_DAY, 10, HELSINKI)
                )
            )
            if origin != "kuopion-liikenne:201827"
            else []
        )
        for it in found:
            first = it.legs[0]
            if isinstance(first, TransitLeg) and first.from_place.stop_id != origin:
                assert first.from_place.place_id == places.ids[p]
                checked += 1
        if checked >= 3:
            break
    assert checked >= 1


def test_a_shared_place_id_is_an_origin_and_a_destination(
    kuopio_planner: Planner, kuopio_snapshot: Snapshot
) -> None:
    place = next(p for p in kuopio_snapshot.places.ids if p != "place:201827")
    found = kuopio_planner.plan(
        JourneyQuery(place, "kuopion-liikenne:201827", depart_at=_at(KUOPIO_DAY, 10, HELSINKI))
    )
    assert found
    assert found[0].legs[0].from_place.place_id == place
    back = kuopio_planner.plan(
        JourneyQuery("kuopion-liikenne:201827", place, depart_at=_at(KUOPIO_DAY, 10, HELSINKI))
    )
    assert back
    assert back[0].legs[-1].to_place.place_id == place


@cache
def _two_cities() -> Planner:
    """Kuopio (Europe/Helsinki) and the Porto Alegre metro (America/Sao_Paulo) in one network."""
    return Planner(build_snapshot(concat([feeds.kuopio_five_operators(), feeds.trensurb()])))


def _offsets(itinerary: Itinerary) -> set[dt.timedelta | None]:
    times = [itinerary.departure, itinerary.arrival]
    for leg in itinerary.legs:
        times += [leg.departure, leg.arrival]
        if isinstance(leg, TransitLeg):
            times += [t for call in leg.intermediate_stops for t in (call.arrival, call.departure)]
    return {t.utcoffset() for t in times}


def test_one_place_is_not_a_journey(kuopio_planner: Planner, kuopio_snapshot: Snapshot) -> None:
    places, stops = kuopio_snapshot.places, kuopio_snapshot.stops
    a, b = (stops.ids[i] for i in places.members_of(0)[:2])
    with pytest.raises(InvalidQueryError, match="same place"):
        kuopio_planner.plan(JourneyQuery(a, b, depart_at=_at(KUOPIO_DAY, 10, HELSINKI)))
    with pytest.raises(InvalidQueryError, match="same place"):
        kuopio_planner.plan(JourneyQuery(places.ids[0], b, depart_at=_at(KUOPIO_DAY, 10, HELSINKI)))


def test_a_porto_alegre_journey_is_in_sao_paulo_time() -> None:
    planner = _two_cities()
    day = dt.date(2019, 6, 4)
    found = planner.plan(
        JourneyQuery("trensurb:MR", "trensurb:FR", depart_at=_at(day, 8, SAO_PAULO))
    )
    assert found
    assert all(_offsets(it) == {dt.timedelta(hours=-3)} for it in found)
    assert found[0].departure >= _at(day, 8, SAO_PAULO)
    walk = planner.plan(
        JourneyQuery(
            Coordinates(-30.0262849537, -51.2282682008),
            Coordinates(-30.0245, -51.2262),
            depart_at=_at(day, 8, SAO_PAULO),
        )
    )
    assert walk
    assert all(_offsets(it) == {dt.timedelta(hours=-3)} for it in walk)


def test_a_kuopio_journey_in_the_same_network_stays_in_helsinki_time() -> None:
    found = _two_cities().plan(
        JourneyQuery(
            "kuopion-liikenne:178565", "e-ahonen:174252", depart_at=_at(KUOPIO_DAY, 8, HELSINKI)
        )
    )
    assert found
    assert all(_offsets(it) == {dt.timedelta(hours=2)} for it in found)
