"""The few TripUpdate fields the overlay needs, read straight from the protobuf wire format.

A compiled walk over the bytes of a FeedMessage that the bindings have already
accepted (`parse_feed_message` stays what validates): one row per entity and
one per StopTimeUpdate, numbers and (offset, length) spans of the id strings,
instead of a Python pass with five `HasField` calls per update. It follows the
bindings' reading of the wire format field for field: a known field with another
wire type is an unknown field, a repeated singular field keeps its last value
(a repeated singular message merges), an enum value the proto does not list is
ignored, int32 and uint32 keep the low 32 bits. Everything else is skipped by
its wire type, groups included, without recursion. Every read is bounds-checked
and every step advances, so any bytes end in rows or in `MALFORMED`, never out
of bounds or in a loop.

This module imports numba (through `compiled`): import it only where a feed is applied.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gtfs.compiled import compiled

Bytes = npt.NDArray[np.uint8]
Table = npt.NDArray[np.int64]

OK, MALFORMED = 0, 1

#: Columns of the entity rows. Spans are (offset, length) into the bytes; length 0 when absent;
#: the entity's own bytes are [E_START, E_END).
(
    E_TRIP_UPDATE,
    E_DELETED,
    E_TRIP_RELATIONSHIP,
    E_TRIP_ID,
    E_TRIP_ID_LEN,
    E_START_DATE,
    E_START_DATE_LEN,
    E_ROUTE_ID,
    E_ROUTE_ID_LEN,
    E_START_TIME,
    E_START_TIME_LEN,
    E_DELAY,
    E_START,
    E_END,
) = range(14)
ENTITY_COLUMNS = 14

#: Columns of the StopTimeUpdate rows; a sequence of -1 means none was given.
(
    U_ENTITY,
    U_SEQUENCE,
    U_STOP_ID,
    U_STOP_ID_LEN,
    U_RELATIONSHIP,
    U_ARRIVAL_KIND,
    U_ARRIVAL,
    U_DEPARTURE_KIND,
    U_DEPARTURE,
) = range(9)
UPDATE_COLUMNS = 9

#: Event kinds: no time nor delay, a delay, an absolute time (time wins when both are given).
KIND_NONE, KIND_DELAY, KIND_TIME = 0, 1, 2

_VARINT, _FIXED64, _LENGTH, _GROUP_START, _GROUP_END, _FIXED32 = 0, 1, 2, 3, 4, 5
_MAX_FIELD = (1 << 29) - 1
#: The values the proto lists: TripDescriptor (4 is unused) and StopTimeUpdate relationships.
_TRIP_RELATIONSHIP_MASK = 0b111101111
_STOP_RELATIONSHIP_MASK = 0b1111


@compiled
def _varint(data: Bytes, pos: int, end: int) -> tuple[int, int]:
    """Return a varint's low 64 bits and the position after it (-1: cut short or too long)."""
    result = 0
    shift = 0
    while pos < end and shift < 64:
        byte = int(data[pos])
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
    return 0, -1


@compiled
def _int32(value: int) -> int:
    """Return the int32 a varint carries (its low 32 bits, signed)."""
    low = value & 0xFFFFFFFF
    return low - 0x100000000 if low >= 0x80000000 else low


@compiled
def _tag(data: Bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Return a field's number, wire type and the position after its tag (-1: malformed)."""
    tag, pos = _varint(data, pos, end)
    field = tag >> 3
    if pos < 0 or field <= 0 or field > _MAX_FIELD:
        return 0, 0, -1
    return field, tag & 7, pos


@compiled
def _length(data: Bytes, pos: int, end: int) -> tuple[int, int]:
    """Return the span of a length-delimited value (start -1: it does not fit)."""
    length, pos = _varint(data, pos, end)
    if pos < 0 or length < 0 or length > end - pos:
        return -1, -1
    return pos, pos + length


@compiled
def _skip_value(data: Bytes, pos: int, end: int, wire: int) -> int:
    """Return the position after a value that is not a group (-1: malformed)."""
    if wire == _VARINT:
        return _varint(data, pos, end)[1]
    if wire == _FIXED64:
        return pos + 8 if pos + 8 <= end else -1
    if wire == _FIXED32:
        return pos + 4 if pos + 4 <= end else -1
    if wire == _LENGTH:
        return _length(data, pos, end)[1]
    return -1


@compiled
def _skip(data: Bytes, pos: int, end: int, wire: int, field: int) -> int:
    """Return the position after an unknown field's value; groups nest, counted, not recursed."""
    if wire != _GROUP_START:
        return _skip_value(data, pos, end, wire)
    depth = 1
    while pos >= 0 and pos < end:
        inner, inner_wire, pos = _tag(data, pos, end)
        if pos < 0:
            return -1
        if inner_wire == _GROUP_END:
            depth -= 1
            if depth == 0:
                return pos if inner == field else -1
        elif inner_wire == _GROUP_START:
            depth += 1
        else:
            pos = _skip_value(data, pos, end, inner_wire)
    return -1


@compiled
def _event(data: Bytes, pos: int, end: int, kind: int, value: int) -> tuple[int, int, int]:
    """Merge a StopTimeEvent into (kind, value): a time wins over a delay, in any order.

    Returns the kind, the value and the position after the event (-1: malformed).
    """
    while pos < end:
        field, wire, pos = _tag(data, pos, end)
        if pos < 0:
            break
        if wire == _VARINT and (field == 1 or field == 2):
            number, pos = _varint(data, pos, end)
            if field == 2:
                kind, value = KIND_TIME, number
            elif kind != KIND_TIME:
                kind, value = KIND_DELAY, _int32(number)
        else:
            pos = _skip(data, pos, end, wire, field)
        if pos < 0:
            break
    return kind, value, pos


@compiled
def _stop_time_update(data: Bytes, pos: int, end: int, updates: Table, i: int) -> bool:
    """Read one StopTimeUpdate into row `i` (zeroed, its entity column set by the caller)."""
    updates[i, U_SEQUENCE] = -1
    arrival_kind = departure_kind = KIND_NONE
    arrival = departure = 0
    while pos < end:
        field, wire, pos = _tag(data, pos, end)
        if pos < 0:
            return False
        if wire == _VARINT and (field == 1 or field == 5):
            value, pos = _varint(data, pos, end)
            relationship = _int32(value)
            if field == 1:
                updates[i, U_SEQUENCE] = value & 0xFFFFFFFF
            elif 0 <= relationship < 4 and (_STOP_RELATIONSHIP_MASK >> relationship) & 1:
                updates[i, U_RELATIONSHIP] = relationship
        elif wire == _LENGTH and 2 <= field <= 4:
            start, pos = _length(data, pos, end)
            if start < 0:
                return False
            if field == 4:
                updates[i, U_STOP_ID], updates[i, U_STOP_ID_LEN] = start, pos - start
            elif field == 2:  # an event's reading ends at its end, or at -1
                arrival_kind, arrival, pos = _event(data, start, pos, arrival_kind, arrival)
            else:
                departure_kind, departure, pos = _event(data, start, pos, departure_kind, departure)
        else:
            pos = _skip(data, pos, end, wire, field)
        if pos < 0:
            return False
    updates[i, U_ARRIVAL_KIND], updates[i, U_ARRIVAL] = arrival_kind, arrival
    updates[i, U_DEPARTURE_KIND], updates[i, U_DEPARTURE] = departure_kind, departure
    return True


@compiled
def _trip_descriptor(data: Bytes, pos: int, end: int, entities: Table, i: int) -> bool:
    """Merge a TripDescriptor into entity row `i` (trip_id, start_time, start_date, route_id)."""
    while pos < end:
        field, wire, pos = _tag(data, pos, end)
        if pos < 0:
            return False
        if wire == _LENGTH and (1 <= field <= 3 or field == 5):
            start, pos = _length(data, pos, end)
            if start < 0:
                return False
            column = E_TRIP_ID
            if field == 2:
                column = E_START_TIME
            elif field == 3:
                column = E_START_DATE
            elif field == 5:
                column = E_ROUTE_ID
            entities[i, column], entities[i, column + 1] = start, pos - start
        elif wire == _VARINT and field == 4:
            value, pos = _varint(data, pos, end)
            relationship = _int32(value)
            if 0 <= relationship < 9 and (_TRIP_RELATIONSHIP_MASK >> relationship) & 1:
                entities[i, E_TRIP_RELATIONSHIP] = relationship
        else:
            pos = _skip(data, pos, end, wire, field)
        if pos < 0:
            return False
    return True


@compiled
def _grow(table: Table) -> Table:
    bigger = np.zeros((2 * table.shape[0], table.shape[1]), dtype=np.int64)
    bigger[: table.shape[0]] = table
    return bigger


@compiled
def _trip_update(
    data: Bytes, pos: int, end: int, entity: int, entities: Table, updates: Table, count: int
) -> tuple[bool, Table, int]:
    """Merge a TripUpdate into its entity's row; append its StopTimeUpdates to `updates`."""
    while pos < end:
        field, wire, pos = _tag(data, pos, end)
        if pos < 0:
            return False, updates, count
        if wire == _LENGTH and (field == 1 or field == 2):
            start, pos = _length(data, pos, end)
            if start < 0:
                return False, updates, count
            if field == 1:
                if not _trip_descriptor(data, start, pos, entities, entity):
                    return False, updates, count
            else:
                if count == updates.shape[0]:
                    updates = _grow(updates)
                updates[count, U_ENTITY] = entity
                if not _stop_time_update(data, start, pos, updates, count):
                    return False, updates, count
                count += 1
        elif wire == _VARINT and field == 5:
            value, pos = _varint(data, pos, end)
            entities[entity, E_DELAY] = _int32(value)
        else:
            pos = _skip(data, pos, end, wire, field)
        if pos < 0:
            return False, updates, count
    return True, updates, count


@compiled
def _entity(
    data: Bytes, pos: int, end: int, entity: int, entities: Table, updates: Table, count: int
) -> tuple[bool, Table, int]:
    """Read one FeedEntity: is_deleted, and its trip_update if it has one."""
    while pos < end:
        field, wire, pos = _tag(data, pos, end)
        if pos < 0:
            return False, updates, count
        if wire == _VARINT and field == 2:
            value, pos = _varint(data, pos, end)
            entities[entity, E_DELETED] = value != 0
        elif wire == _LENGTH and field == 3:
            start, pos = _length(data, pos, end)
            if start < 0:
                return False, updates, count
            entities[entity, E_TRIP_UPDATE] = 1
            ok, updates, count = _trip_update(data, start, pos, entity, entities, updates, count)
            if not ok:
                return False, updates, count
        else:
            pos = _skip(data, pos, end, wire, field)
        if pos < 0:
            return False, updates, count
    return True, updates, count


@compiled
def _feed_message(data: Bytes) -> tuple[int, Table, Table]:
    """Return a status, the entity rows and the StopTimeUpdate rows of a FeedMessage."""
    end = len(data)
    entities = np.zeros((16 + end // 64, ENTITY_COLUMNS), dtype=np.int64)
    updates = np.zeros((16 + end // 16, UPDATE_COLUMNS), dtype=np.int64)
    n_entities = n_updates = 0
    pos = 0
    while pos < end:
        field, wire, pos = _tag(data, pos, end)
        if pos < 0:
            break
        if wire == _LENGTH and field == 2:
            start, pos = _length(data, pos, end)
            if start < 0:
                break
            if n_entities == entities.shape[0]:
                entities = _grow(entities)
            entities[n_entities, E_START], entities[n_entities, E_END] = start, pos
            ok, updates, n_updates = _entity(
                data, start, pos, n_entities, entities, updates, n_updates
            )
            n_entities += 1
            if not ok:
                pos = -1
                break
        else:
            pos = _skip(data, pos, end, wire, field)
            if pos < 0:
                break
    status = OK if pos == end else MALFORMED
    return status, entities[:n_entities], updates[:n_updates]


def scan_trip_updates(data: bytes) -> tuple[int, Table, Table]:
    """Return a status (`OK`, `MALFORMED`), the entity rows and the StopTimeUpdate rows."""
    return _feed_message(np.frombuffer(data, dtype=np.uint8))
