"""Trip-update entities rewritten into an operator's namespace on the wire format itself.

For the merged feed every stored FeedEntity has its ids prefixed with `operator:`:
the entity id always (an entity without one gets the bare prefix), and the trip's
trip_id and route_id, the vehicle's id and every stop_id when they are not empty.
Rewriting the bytes (each string grows by the prefix, each enclosing length with
it) gives the message the bindings' rewrite gives, since a string given twice ends
as the last one, prefixed when not empty, either way. Everything else is copied as
it came, unknown fields included. A string to prefix that is not UTF-8 is refused
(`BAD_TEXT`): the bindings would hand it over as bytes, which no id can be.

Imports numba (through `wire`): import it only where a feed is applied.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from gtfs.compiled import compiled
from gtfs.realtime.wire import Bytes, Table, _length, _skip, _tag

OK, MALFORMED, BAD_TEXT = 0, 1, 2
_BAD, _NOT_TEXT = -1, -2
_ID_TAG = 0x0A  # field 1, length-delimited: the entity id's tag
_LENGTH = 2
_NONE = -1


@compiled
def _vlen(n: int) -> int:
    """Return how many bytes the varint of `n` takes."""
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


@compiled
def _utf8(data: Bytes, pos: int, end: int) -> bool:
    """Tell whether bytes are well-formed UTF-8 (no overlong forms, surrogates or > U+10FFFF)."""
    while pos < end:
        byte = data[pos]
        if byte < 0x80:
            pos += 1
            continue
        low, high = 0x80, 0xBF
        if 0xC2 <= byte <= 0xDF:
            more = 1
        elif 0xE0 <= byte <= 0xEF:
            more = 2
            low = 0xA0 if byte == 0xE0 else 0x80
            high = 0x9F if byte == 0xED else 0xBF
        elif 0xF0 <= byte <= 0xF4:
            more = 3
            low = 0x90 if byte == 0xF0 else 0x80
            high = 0x8F if byte == 0xF4 else 0xBF
        else:
            return False
        if pos + more >= end:
            return False
        if not low <= data[pos + 1] <= high:
            return False
        for k in range(2, more + 1):
            if not 0x80 <= data[pos + k] <= 0xBF:
                return False
        pos += more + 1
    return True


@compiled
def _put_varint(out: Bytes, o: int, n: int) -> int:
    while n >= 0x80:
        out[o] = (n & 0x7F) | 0x80
        n >>= 7
        o += 1
    out[o] = n
    return o + 1


@compiled
def _copy(out: Bytes, o: int, data: Bytes, start: int, stop: int) -> int:
    for i in range(start, stop):  # a loop: a slice is an array object, too dear per field
        out[o] = data[i]
        o += 1
    return o


@compiled
def _leaf_growth(data: Bytes, pos: int, end: int, first: int, second: int, grow: int) -> int:
    """Return how much a message grows when its non-empty `first`/`second` strings grow.

    Negative: `_BAD` (malformed) or `_NOT_TEXT` (a string to prefix is not UTF-8).
    """
    growth = 0
    while pos < end:
        field, wire, pos = _tag(data, pos, end)
        if pos < 0:
            return _BAD
        if wire == _LENGTH and field in (first, second):
            start, pos = _length(data, pos, end)
            if start < 0:
                return _BAD
            if pos > start:
                if not _utf8(data, start, pos):
                    return _NOT_TEXT
                growth += grow + _vlen(pos - start + grow) - _vlen(pos - start)
        else:
            pos = _skip(data, pos, end, wire, field)
            if pos < 0:
                return _BAD
    return growth


@compiled
def _write_leaf(
    data: Bytes, pos: int, end: int, first: int, second: int, prefix: Bytes, out: Bytes, o: int
) -> int:
    """Copy a message with its non-empty `first`/`second` strings prefixed; return where it ends.

    What lies between two such strings is copied in one run.
    """
    run = pos
    while pos < end:
        field, wire, pos = _tag(data, pos, end)
        if wire == _LENGTH and field in (first, second):
            tag_end = pos
            start, pos = _length(data, pos, end)
            if pos > start:
                o = _copy(out, o, data, run, tag_end)
                o = _put_varint(out, o, pos - start + len(prefix))
                o = _copy(out, o, prefix, 0, len(prefix))
                run = start
        else:
            pos = _skip(data, pos, end, wire, field)
    return _copy(out, o, data, run, end)


@compiled
def _strings_of(field: int) -> tuple[int, int]:
    """Return the strings a TripUpdate field prefixes: trip (trip_id, route_id), stop, vehicle."""
    if field == 1:
        return 1, 5
    if field == 2:
        return 4, _NONE
    return 1, _NONE


@compiled
def _trip_update_growth(
    data: Bytes, pos: int, end: int, grow: int, growths: Table, k: int
) -> tuple[int, int]:
    """Return how much a TripUpdate grows and the next free slot of `growths`.

    Each of its trip, stop-time updates and vehicle notes its own growth in `growths`, in
    order, for the writer.
    """
    growth = 0
    while pos < end:
        field, wire, pos = _tag(data, pos, end)
        if pos < 0:
            return _BAD, k
        if wire == _LENGTH and 1 <= field <= 3:
            start, pos = _length(data, pos, end)
            if start < 0:
                return _BAD, k
            first, second = _strings_of(field)
            inner = _leaf_growth(data, start, pos, first, second, grow)
            if inner < 0:
                return inner, k
            growths[k] = inner
            k += 1
            growth += inner + _vlen(pos - start + inner) - _vlen(pos - start)
        else:
            pos = _skip(data, pos, end, wire, field)
            if pos < 0:
                return _BAD, k
    return growth, k


@compiled
def _write_trip_update(
    data: Bytes, pos: int, end: int, prefix: Bytes, growths: Table, k: int, out: Bytes, o: int
) -> tuple[int, int]:
    while pos < end:
        field_start = pos
        field, wire, pos = _tag(data, pos, end)
        if wire == _LENGTH and 1 <= field <= 3:
            o = _copy(out, o, data, field_start, pos)
            start, pos = _length(data, pos, end)
            first, second = _strings_of(field)
            o = _put_varint(out, o, pos - start + growths[k])
            k += 1
            o = _write_leaf(data, start, pos, first, second, prefix, out, o)
        else:
            pos = _skip(data, pos, end, wire, field)
            o = _copy(out, o, data, field_start, pos)
    return o, k


@compiled
def _entity_growth(
    data: Bytes, pos: int, end: int, grow: int, growths: Table, k: int
) -> tuple[int, int]:
    """Return how much an entity grows and the next free slot of `growths` (see above)."""
    growth = 0
    has_id = False
    while pos < end:
        field, wire, pos = _tag(data, pos, end)
        if pos < 0:
            return _BAD, k
        if wire == _LENGTH and (field == 1 or field == 3):
            start, pos = _length(data, pos, end)
            if start < 0:
                return _BAD, k
            if field == 1:
                has_id = True
                inner = grow if _utf8(data, start, pos) else _NOT_TEXT
            else:
                slot = k  # the TripUpdate's own growth goes before its parts'
                inner, k = _trip_update_growth(data, start, pos, grow, growths, k + 1)
                growths[slot] = inner
            if inner < 0:
                return inner, k
            growth += inner + _vlen(pos - start + inner) - _vlen(pos - start)
        else:
            pos = _skip(data, pos, end, wire, field)
            if pos < 0:
                return _BAD, k
    return (growth if has_id else growth + 1 + _vlen(grow) + grow), k


@compiled
def _write_entity(
    data: Bytes, pos: int, end: int, prefix: Bytes, growths: Table, k: int, out: Bytes, o: int
) -> int:
    has_id = False
    while pos < end:
        field_start = pos
        field, wire, pos = _tag(data, pos, end)
        if wire == _LENGTH and (field == 1 or field == 3):
            o = _copy(out, o, data, field_start, pos)
            start, pos = _length(data, pos, end)
            if field == 1:
                has_id = True
                o = _put_varint(out, o, pos - start + len(prefix))
                o = _copy(out, o, prefix, 0, len(prefix))
                o = _copy(out, o, data, start, pos)
            else:
                o = _put_varint(out, o, pos - start + growths[k])
                o, k = _write_trip_update(data, start, pos, prefix, growths, k + 1, out, o)
        else:
            pos = _skip(data, pos, end, wire, field)
            o = _copy(out, o, data, field_start, pos)
    if not has_id:
        out[o] = _ID_TAG
        o = _put_varint(out, o + 1, len(prefix))
        o = _copy(out, o, prefix, 0, len(prefix))
    return k


@compiled
def _namespace(data: Bytes, spans: Table, prefix: Bytes) -> tuple[int, Bytes, Table]:
    """Return a status, the rewritten entities end to end and where each starts."""
    n = spans.shape[0]
    offsets = np.zeros(n + 1, dtype=np.int64)
    # One slot per rewritten message at most: each takes two bytes or more.
    growths = np.empty(len(data) // 2 + 1, dtype=np.int64)
    k = 0
    for i in range(n):
        growth, k = _entity_growth(data, spans[i, 0], spans[i, 1], len(prefix), growths, k)
        if growth < 0:
            return (BAD_TEXT if growth == _NOT_TEXT else MALFORMED), data[:0].copy(), offsets
        offsets[i + 1] = offsets[i] + spans[i, 1] - spans[i, 0] + growth
    out = np.empty(offsets[n], dtype=np.uint8)
    k = 0
    for i in range(n):
        k = _write_entity(data, spans[i, 0], spans[i, 1], prefix, growths, k, out, offsets[i])
    return OK, out, offsets


def namespace_entities(data: bytes, spans: Table, prefix: str) -> tuple[int, list[bytes]]:
    """Return a status and each FeedEntity of `spans` (start, end) with its ids prefixed."""
    status, out, offsets = _namespace(
        np.frombuffer(data, dtype=np.uint8),
        np.ascontiguousarray(spans, dtype=np.int64),
        np.frombuffer(prefix.encode(), dtype=np.uint8),
    )
    blob = out.tobytes()
    return status, [blob[a:b] for a, b in pairwise(offsets.tolist())]
