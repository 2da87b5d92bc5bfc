"""TripUpdates -> the realtime overlay, with delay propagation as the GTFS-RT reference says.

For each updated trip, every stop gets expected arrival and departure seconds
(service-day seconds, like `stop_times`):

* a StopTimeUpdate (matched by stop_sequence, else by stop_id) sets its stop's
  times from `time` (POSIX, converted with the trip's service day and agency
  zone) or `delay`; if only one of arrival and departure is given, the other
  takes the same delay;
* stops without their own update take the departure delay of the nearest
  earlier update; SKIPPED stops are flagged and do not stop that propagation;
* NO_DATA (or an update with neither arrival nor departure) means scheduled
  times from that stop on, until the next update with data;
* stops before the first update take `TripUpdate.delay` if given, else run as
  scheduled;
* CANCELED and DELETED trips are flagged cancelled with every stop skipped;
* departure is never before arrival at a stop (the delay that propagates from
  a stop is the departure delay after that correction).

The numbers come out of the bytes through a compiled reader of the wire format
(`wire`), after the bindings have accepted them; matching and propagation are
vectorised over all updates of the message at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np
from google.transit import gtfs_realtime_pb2

from gtfs.realtime.feed import (
    SAMPLE_SIZE,
    FeedDecodeError,
    IdTally,
    ReportCounts,
    feed_text,
    feed_texts,
)
from gtfs.realtime.overlay import TripRealtime
from gtfs.realtime.schedule import (
    BoolArray,
    Int64Array,
    TripSchedules,
    parse_service_date,
    service_day_start_s,
)

_TripSR = gtfs_realtime_pb2.TripDescriptor.ScheduleRelationship
_StopSR = gtfs_realtime_pb2.TripUpdate.StopTimeUpdate.ScheduleRelationship
_CANCELLED = frozenset({int(_TripSR.CANCELED), int(_TripSR.DELETED)})
_CANCELLED_CODES = np.array(sorted(_CANCELLED), dtype=np.int64)
_APPLIED_CODES = np.array(
    sorted({int(_TripSR.SCHEDULED), int(_TripSR.REPLACEMENT)} | _CANCELLED), dtype=np.int64
)
_SKIPPED = int(_StopSR.SKIPPED)
_NO_DATA = int(_StopSR.NO_DATA)

#: Event kinds in the extracted arrays (`wire.KIND_NONE`, `KIND_DELAY`, `KIND_TIME`).
_NONE, _DELAY, _TIME = 0, 1, 2
_UNKNOWN_STOP = -2


@dataclass(slots=True)
class _Extracted:
    """The numbers pulled out of one message: one entry per updated trip and per update."""

    slot_trip: list[int]
    slot_start_date: list[str]
    slot_delay_s: list[int]
    slot_cancelled: list[bool]
    unknown_trips: IdTally
    unknown_stop_samples: list[str]
    unsupported_count: int
    slots: Int64Array  # per update from here on
    sequence: Int64Array
    code: Int64Array
    relationship: Int64Array
    arrival_kind: Int64Array
    arrival: Int64Array
    departure_kind: Int64Array
    departure: Int64Array


@dataclass(frozen=True, slots=True)
class WireRows:
    """The entity and StopTimeUpdate rows `wire.scan_trip_updates` read from a message's bytes."""

    entities: Int64Array
    updates: Int64Array


def scan_feed(data: bytes) -> WireRows:
    """Read the rows of bytes the bindings have accepted (`parse_feed_message`)."""
    from gtfs.realtime import wire  # numba: loaded by the first TripUpdates applied, not at import

    status, entities, updates = wire.scan_trip_updates(data)
    if status != wire.OK:  # the bindings accepted these bytes: a defence, not a path
        raise FeedDecodeError(f"{len(data)} bytes are not a well-formed GTFS-Realtime message")
    return WireRows(entities, updates)


def _no_trip_id(data: bytes, row: Int64Array, wire: ModuleType, prefix: str) -> str:
    """Name a trip update that gives no trip_id, for the report."""
    route_id = feed_text(data, int(row[wire.E_ROUTE_ID]), int(row[wire.E_ROUTE_ID_LEN]), "route_id")
    start_time = feed_text(
        data, int(row[wire.E_START_TIME]), int(row[wire.E_START_TIME_LEN]), "start_time"
    )
    return f"(no trip_id: route {prefix}{route_id} {start_time})"


def _slots(
    data: bytes, entities: Int64Array, wire: ModuleType, prefix: str, schedules: TripSchedules
) -> tuple[Int64Array, _Extracted]:
    """Resolve the trips of the entities to apply; return each entity's slot (-1: none)."""
    with_update = (entities[:, wire.E_TRIP_UPDATE] != 0) & (entities[:, wire.E_DELETED] == 0)
    applied = with_update & np.isin(entities[:, wire.E_TRIP_RELATIONSHIP], _APPLIED_CODES)
    empty = np.zeros(0, dtype=np.int64)
    out = _Extracted(
        [], [], [], [], IdTally(), [], int((with_update & ~applied).sum()), *[empty] * 8
    )
    chosen = np.flatnonzero(applied)
    rows = entities[chosen].T
    trip_ids = feed_texts(data, rows[wire.E_TRIP_ID], rows[wire.E_TRIP_ID_LEN], "trip_id")
    trip_index = schedules.trip_index
    trips = np.array(
        [trip_index.get(prefix + trip_id, -1) if trip_id else -1 for trip_id in trip_ids],
        dtype=np.int64,
    )
    for i in np.flatnonzero(trips < 0).tolist():
        out.unknown_trips.add(
            prefix + trip_ids[i] if trip_ids[i] else _no_trip_id(data, rows[:, i], wire, prefix)
        )
    known = trips >= 0
    slot_of_entity = np.full(len(entities), -1, dtype=np.int64)
    slot_of_entity[chosen[known]] = np.arange(int(known.sum()), dtype=np.int64)
    rows = rows[:, known]
    out.slot_trip = trips[known].tolist()
    out.slot_start_date = feed_texts(
        data, rows[wire.E_START_DATE], rows[wire.E_START_DATE_LEN], "start_date"
    )
    out.slot_delay_s = rows[wire.E_DELAY].tolist()
    out.slot_cancelled = np.isin(rows[wire.E_TRIP_RELATIONSHIP], _CANCELLED_CODES).tolist()
    return slot_of_entity, out


def _extract(data: bytes, rows: WireRows, operator_id: str, schedules: TripSchedules) -> _Extracted:
    """Resolve the message's trips and every stop-time update's stop."""
    from gtfs.realtime import wire

    entities, updates = rows.entities, rows.updates
    prefix = operator_id + ":"
    slot_of_entity, out = _slots(data, entities, wire, prefix, schedules)
    update_slot = slot_of_entity[updates[:, wire.U_ENTITY]]
    # One contiguous row per field: numpy over strided columns of the row table is slower.
    kept = np.ascontiguousarray(updates[update_slot >= 0].T)
    out.slots = update_slot[update_slot >= 0]
    out.sequence = kept[wire.U_SEQUENCE]
    out.relationship = kept[wire.U_RELATIONSHIP]
    out.arrival_kind, out.arrival = kept[wire.U_ARRIVAL_KIND], kept[wire.U_ARRIVAL]
    out.departure_kind, out.departure = kept[wire.U_DEPARTURE_KIND], kept[wire.U_DEPARTURE]
    # stop_sequence decides when given; the stop_id is looked up only without it.
    out.code = np.full(len(out.slots), -1, dtype=np.int64)
    by_id = np.flatnonzero((out.sequence < 0) & (kept[wire.U_STOP_ID_LEN] > 0))
    spans = zip(
        kept[wire.U_STOP_ID, by_id].tolist(), kept[wire.U_STOP_ID_LEN, by_id].tolist(), strict=True
    )
    stop_codes = schedules.stop_codes
    for i, (start, length) in zip(by_id.tolist(), spans, strict=True):
        stop_id = prefix + feed_text(data, start, length, "stop_id")
        out.code[i] = code = stop_codes.get(stop_id, _UNKNOWN_STOP)
        if code == _UNKNOWN_STOP and len(out.unknown_stop_samples) < SAMPLE_SIZE:
            out.unknown_stop_samples.append(stop_id)
    return out


def _match_rows(
    s: TripSchedules, slots: Int64Array, trips: Int64Array, sequence: Int64Array, code: Int64Array
) -> Int64Array:
    """Return the stop_times row each update refers to, or -1 when it is not on the trip."""
    rows = np.full(len(trips), -1, dtype=np.int64)
    if not len(s.seq_keys):
        return rows
    by_sequence = sequence >= 0
    in_span = sequence[by_sequence] < s.seq_span
    keys = trips[by_sequence] * s.seq_span + sequence[by_sequence]
    found = np.minimum(np.searchsorted(s.seq_keys, keys), len(s.seq_keys) - 1)
    rows[by_sequence] = np.where(in_span & (s.seq_keys[found] == keys), found, -1)
    by_stop = np.flatnonzero(~by_sequence & (code >= 0))
    stop_keys = trips[by_stop] * (len(s.stop_codes) + 1) + code[by_stop]
    left = np.searchsorted(s.stop_keys, stop_keys, side="left")
    right = np.searchsorted(s.stop_keys, stop_keys, side="right")
    first = s.stop_key_rows[np.minimum(left, len(s.stop_key_rows) - 1)]
    rows[by_stop] = np.where(right > left, first, -1)
    for i in np.flatnonzero(right - left > 1):
        _match_repeated_stop(s, rows, slots, int(by_stop[i]), int(left[i]), int(right[i]))
    return rows


def _match_repeated_stop(
    s: TripSchedules, rows: Int64Array, slots: Int64Array, update: int, left: int, right: int
) -> None:
    """For a stop the trip visits twice, take the first visit after the previous update's."""
    previous = int(rows[update - 1]) if update and slots[update - 1] == slots[update] else -1
    visits = s.stop_key_rows[left:right]
    later = visits[visits > previous]
    rows[update] = int(later[0]) if len(later) else int(visits[0])


def _day_starts(
    s: TripSchedules, x: _Extracted, slots: Int64Array, absolute_s: Int64Array
) -> Int64Array:
    """Return the service day start (POSIX) of every trip instance that has absolute times.

    `absolute_s` holds each update's absolute time, or 0; without a start_date, the first
    absolute time of the trip picks the service day it fits.
    """
    day_start_s = np.zeros(len(x.slot_trip), dtype=np.int64)
    with_time = np.flatnonzero(absolute_s)
    slot_list, first = np.unique(slots[with_time], return_index=True)
    days = {text: parse_service_date(text) for text in set(x.slot_start_date)}
    for slot, reference_s in zip(
        slot_list.tolist(), absolute_s[with_time[first]].tolist(), strict=True
    ):
        trip, start_date = x.slot_trip[slot], x.slot_start_date[slot]
        day = days[start_date]
        day_start_s[slot] = (
            s.service_day_start_s(trip, start_date, reference_s)
            if day is None
            else service_day_start_s(day, s.zones[int(s.trip_zone[trip])])
        )
    return day_start_s


@dataclass(frozen=True, slots=True)
class _Updates:
    """Per stop-time update: its trip instance, stop_times row, relationship and delays."""

    slots: Int64Array
    rows: Int64Array
    relationship: Int64Array
    arrival_delay_s: Int64Array
    departure_delay_s: Int64Array
    slot_day_start_s: Int64Array  # per trip instance; 0 where no update gave a time


#: POSIX times a feed may give (1970 to 2514): beyond, no calendar date holds them.
_LATEST_S = 1 << 34


def _check_times(
    arrival_kind: Int64Array, arrival: Int64Array, departure_kind: Int64Array, departure: Int64Array
) -> None:
    """Refuse a feed whose absolute times cannot be dates (raise `FeedDecodeError`)."""
    for kind, times, name in (
        (arrival_kind, arrival, "arrival"),
        (departure_kind, departure, "departure"),
    ):
        bad = np.flatnonzero((kind == _TIME) & ((times < 0) | (times >= _LATEST_S)))
        if len(bad):
            raise FeedDecodeError(
                f"stop_time_update {name}.time {int(times[bad[0]])} is not a POSIX time"
                f" ({len(bad)} such)"
            )


def _update_delays(s: TripSchedules, x: _Extracted) -> _Updates:
    """Match every update to its stop and turn its arrival and departure into delays."""
    slots, sequence, code, relationship = x.slots, x.sequence, x.code, x.relationship
    arrival_kind, arrival, departure_kind, departure = (
        x.arrival_kind,
        x.arrival,
        x.departure_kind,
        x.departure,
    )
    rows = _match_rows(s, slots, np.array(x.slot_trip, dtype=np.int64)[slots], sequence, code)
    safe_rows = np.maximum(rows, 0)
    absolute_s = np.where(
        arrival_kind == _TIME, arrival, np.where(departure_kind == _TIME, departure, 0)
    )
    _check_times(arrival_kind, arrival, departure_kind, departure)
    slot_day_start_s = _day_starts(s, x, slots, absolute_s)
    day_start_s = slot_day_start_s[slots]
    arrival_delay = np.where(
        arrival_kind == _TIME, arrival - day_start_s - s.arrival_s[safe_rows], arrival
    )
    departure_delay = np.where(
        departure_kind == _TIME, departure - day_start_s - s.departure_s[safe_rows], departure
    )
    has_arrival, has_departure = arrival_kind != _NONE, departure_kind != _NONE
    arrival_delay, departure_delay = (
        np.where(has_arrival, arrival_delay, departure_delay),
        np.where(has_departure, departure_delay, arrival_delay),
    )
    # A vehicle cannot leave before it arrives; the clamped delay is the one that propagates.
    departure_delay = np.maximum(
        departure_delay, arrival_delay + s.arrival_s[safe_rows] - s.departure_s[safe_rows]
    )
    no_data = ~(has_arrival | has_departure) | (relationship == _NO_DATA)
    return _Updates(
        slots=slots,
        rows=rows,
        relationship=relationship,
        arrival_delay_s=np.where(no_data, 0, arrival_delay),
        departure_delay_s=np.where(no_data, 0, departure_delay),
        slot_day_start_s=slot_day_start_s,
    )


def _take(values: Int64Array, index: Int64Array) -> Int64Array:
    return values[index] if len(values) else np.zeros(len(index), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class _Stops:
    """Every stop of every updated trip instance, trip after trip (the overlay's rows)."""

    rows: Int64Array
    slot: Int64Array
    segment_start: Int64Array
    segment_offset: Int64Array
    segment_end: Int64Array


def _stops_of(s: TripSchedules, slot_trip: Int64Array) -> _Stops:
    first_row = s.row_start[slot_trip]
    lengths = s.row_end[slot_trip] - first_row
    offsets = (np.cumsum(lengths) - lengths).astype(np.int64)
    slot = np.repeat(np.arange(len(slot_trip), dtype=np.int64), lengths)
    segment_start = offsets[slot]
    rows = np.arange(len(slot), dtype=np.int64) - segment_start + first_row[slot]
    return _Stops(rows, slot, segment_start, offsets, offsets + lengths)


def _expected_times(
    s: TripSchedules, x: _Extracted, u: _Updates, stops: _Stops
) -> tuple[Int64Array, Int64Array, BoolArray]:
    """Propagate each update's delays to the following stops; return arrival, departure, skipped."""
    slot_trip = np.array(x.slot_trip, dtype=np.int64)
    matched = u.rows >= 0
    local = stops.segment_offset[u.slots] + u.rows - s.row_start[slot_trip[u.slots]]
    governs = matched & (u.relationship != _SKIPPED)
    n = len(stops.rows)
    governing = np.full(n, -1, dtype=np.int64)
    governing[local[governs]] = np.flatnonzero(governs)
    own = governing >= 0
    last = np.maximum.accumulate(np.where(own, np.arange(n), -1)) if n else governing
    covered = last >= stops.segment_start
    update = np.where(covered, governing[np.maximum(last, 0)], 0)
    # An update's departure delay is what carries on to the stops after it.
    departure_delay = _take(u.departure_delay_s, update)
    arrival_delay = np.where(own, _take(u.arrival_delay_s, update), departure_delay)
    cancelled = np.array(x.slot_cancelled, dtype=np.bool_)[stops.slot]
    uncovered = np.where(cancelled, 0, np.array(x.slot_delay_s, dtype=np.int64)[stops.slot])
    arrival_delay = np.where(covered & ~cancelled, arrival_delay, uncovered)
    departure_delay = np.where(covered & ~cancelled, departure_delay, uncovered)
    arrival = s.arrival_s[stops.rows] + arrival_delay
    departure = np.maximum(s.departure_s[stops.rows] + departure_delay, arrival)
    skipped = cancelled.copy()
    skipped[local[matched & (u.relationship == _SKIPPED)]] = True
    return arrival, departure, skipped


_INT32_MIN, _INT32_MAX = np.iinfo(np.int32).min, np.iinfo(np.int32).max


def overlay_from_feed(
    data: bytes, rows: WireRows, operator_id: str, schedules: TripSchedules
) -> tuple[dict[str, TripRealtime], ReportCounts]:
    """Apply a TripUpdates message (its bytes and `scan_feed` rows) to the snapshot's schedules.

    Counts what did not match.
    """
    x = _extract(data, rows, operator_id, schedules)
    slot_trip = np.array(x.slot_trip, dtype=np.int64)
    updates = _update_delays(schedules, x)
    stops = _stops_of(schedules, slot_trip)
    arrival, departure, skipped = _expected_times(schedules, x, updates, stops)
    arrival32 = np.clip(arrival, _INT32_MIN, _INT32_MAX).astype(np.int32)
    departure32 = np.clip(departure, _INT32_MIN, _INT32_MAX).astype(np.int32)
    overlay: dict[str, TripRealtime] = {}
    trip_ids = schedules.trip_ids
    day_starts = updates.slot_day_start_s.tolist()
    days = {text: parse_service_date(text) for text in set(x.slot_start_date)}
    bounds = zip(stops.segment_offset.tolist(), stops.segment_end.tolist(), strict=True)
    for slot, (start, end) in enumerate(bounds):
        trip, start_date = x.slot_trip[slot], x.slot_start_date[slot]
        overlay[trip_ids[trip]] = TripRealtime(
            arrival_s=arrival32[start:end],
            departure_s=departure32[start:end],
            skipped=skipped[start:end],
            cancelled=x.slot_cancelled[slot],
            service_date=days[start_date]
            or schedules.service_date(trip, start_date, day_starts[slot]),
        )
    return overlay, ReportCounts(
        accepted_count=len(overlay),
        unknown_trips=x.unknown_trips,
        unknown_stops=_unknown_stops(schedules, x, updates),
        unsupported_count=x.unsupported_count,
    )


def _unknown_stops(s: TripSchedules, x: _Extracted, u: _Updates) -> IdTally:
    """Count updates whose stop is not on their trip, with samples to show the operator."""
    unmatched = np.flatnonzero(u.rows < 0)
    tally = IdTally(count=len(unmatched), samples=list(x.unknown_stop_samples))
    for i in unmatched[: SAMPLE_SIZE - len(tally.samples)].tolist():
        slot, sequence = int(x.slots[i]), int(x.sequence[i])
        if sequence >= 0:
            tally.samples.append(f"{s.trip_ids[x.slot_trip[slot]]}@stop_sequence={sequence}")
    return tally
