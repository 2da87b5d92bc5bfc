"""Write the API's JSON of many planner queries, to compare two versions of the code byte for byte.

For each feed on the command line: import it the real way (`prepare_feed`), build
the snapshot, pick its busiest weekday and draw random stop pairs and times (a
fixed seed, so two runs ask the same questions). Each pair is asked several ways:
stop to stop on the default (stretching) end walks, with the Connection Scan's
walk limits, a 60-minute range, arrive-by, wheelchair and by the stops'
coordinates. One line per query goes to OUT: the query, then the JSON that
`GET /v1/journeys` writes for its itineraries (or the error's code). Run it with
the code of two commits and `cmp` the files. Never asserts anything itself.

Run: .venv/bin/python bench/planner_answers.py --out answers.jsonl --pairs 60 FEED.zip ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sys
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner import busiest_weekday  # noqa: E402  (bench/planner.py)

from gateway.handlers.journeys_json import itinerary_json  # noqa: E402
from gtfs.feed.prepare import prepare_feed  # noqa: E402
from gtfs.snapshot.build import build_snapshot  # noqa: E402
from journeys.errors import JourneyError  # noqa: E402
from journeys.planner import Coordinates, JourneyQuery, Planner  # noqa: E402


def variants(planner: Planner, a: int, b: int, when: dt.datetime) -> list[JourneyQuery]:
    """Return the ways one stop pair is asked."""
    stops = planner.snapshot.stops
    base = JourneyQuery(stops.ids[a], stops.ids[b], depart_at=when, max_transfers=6)
    limited = replace(base, max_walk_start_s=15 * 60, max_walk_end_s=15 * 60)
    points = replace(
        base,
        origin=Coordinates(float(stops.lat[a]) + 0.001, float(stops.lon[a])),
        destination=Coordinates(float(stops.lat[b]), float(stops.lon[b]) - 0.001),
    )
    return [
        base,
        limited,
        replace(base, window_s=3600),
        replace(base, depart_at=None, arrive_by=when + dt.timedelta(hours=1)),
        replace(base, wheelchair=True),
        points,
        replace(limited, max_walk_transfer_s=3 * 60, max_transfers=2, limit=3),
    ]


def answer(planner: Planner, query: JourneyQuery) -> bytes:
    """Return the API's JSON of a query's itineraries, or its error's code."""
    try:
        found = planner.plan(query)
    except JourneyError as exc:
        return orjson.dumps({"error": exc.code})
    return orjson.dumps([itinerary_json(it) for it in found])


def write_feed(path: Path, pairs: int, seed: int, out: list[bytes]) -> None:
    """Append the answers of one feed's queries."""
    operator = re.sub(r"[^a-z0-9-]+", "-", path.stem.lower()).strip("-")
    snap = build_snapshot(prepare_feed(path, operator).tables)
    planner, day = Planner(snap), busiest_weekday(snap)
    served = sorted(set(snap.trips.stop.tolist()))
    rng, tz = random.Random(seed), ZoneInfo(snap.timezone)
    for _ in range(pairs):
        a, b = rng.sample(served, 2)
        minutes = rng.randrange(6 * 60, 20 * 60)
        when = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tz)
        for query in variants(planner, a, b, when):
            out.append(f"{path.name} {query!r}\n".encode() + answer(planner, query) + b"\n")


def main() -> None:
    """Write every feed's answers to one file."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("feeds", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=60, help="stop pairs per feed")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    out: list[bytes] = []
    for path in args.feeds:
        write_feed(path, args.pairs, args.seed, out)
    args.out.write_bytes(b"".join(out))
    print(f"{len(out)} queries written to {args.out}")


if __name__ == "__main__":
    main()
