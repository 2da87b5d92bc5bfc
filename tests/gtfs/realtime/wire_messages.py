"""FeedMessages built field by field on the wire format, for comparing readers with the bindings."""

from __future__ import annotations

from hypothesis import strategies as st

HEADER = b"\x0a\x05\x0a\x032.0"  # header { gtfs_realtime_version: "2.0" }


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def key(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def length_delimited(field: int, payload: bytes) -> bytes:
    return key(field, 2) + varint(len(payload)) + payload


#: Per message: its fields the reader knows or the bindings parse as messages.
STRING, NUMBER = "string", "number"
SCHEMA: dict[str, dict[int, str]] = {
    "FeedMessage": {1: "FeedHeader", 2: "FeedEntity"},
    "FeedHeader": {1: STRING, 2: NUMBER, 3: NUMBER, 4: STRING},
    "FeedEntity": {1: STRING, 2: NUMBER, 3: "TripUpdate", 4: "Opaque"},
    "TripUpdate": {
        1: "TripDescriptor",
        2: "StopTimeUpdate",
        3: "VehicleDescriptor",
        4: NUMBER,
        5: NUMBER,
    },
    "VehicleDescriptor": {1: STRING, 2: STRING, 3: STRING, 4: NUMBER},
    "TripDescriptor": {1: STRING, 2: STRING, 3: STRING, 4: NUMBER, 5: STRING, 6: NUMBER},
    "StopTimeUpdate": {
        1: NUMBER,
        2: "StopTimeEvent",
        3: "StopTimeEvent",
        4: STRING,
        5: NUMBER,
        7: NUMBER,
    },
    "StopTimeEvent": {1: NUMBER, 2: NUMBER, 3: NUMBER, 4: NUMBER},
    "Opaque": {},
}

numbers = st.one_of(
    st.integers(0, 10),
    st.integers(-3, -1),
    st.integers(0, 2**35),
    st.integers(-(2**40), 2**40),
    st.sampled_from([2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**63 - 1, 2**63, 2**64 - 1]),
)
strings = st.one_of(
    st.sampled_from([b"", b"1", b"2.0", b"20240610", b"\xff\xfe", b"\xed\xa0\x80", b"\xc3("]),
    st.text(max_size=6).map(str.encode),
    st.binary(max_size=6),
)


@st.composite
def scalar_field(draw: st.DrawFn, field: int) -> bytes:
    """A value of any wire type: a field the schema knows may come with the wrong one."""
    wire_type = draw(st.sampled_from([0, 0, 1, 2, 5]))
    if wire_type == 0:
        return key(field, 0) + varint(draw(numbers))
    if wire_type == 1:
        return key(field, 1) + draw(st.binary(min_size=8, max_size=8))
    if wire_type == 5:
        return key(field, 5) + draw(st.binary(min_size=4, max_size=4))
    packed = b"".join(varint(v) for v in draw(st.lists(numbers, max_size=3)))
    return length_delimited(field, draw(st.sampled_from([packed, draw(strings)])))


@st.composite
def group(draw: st.DrawFn, field: int, depth: int) -> bytes:
    inner = b"".join(
        draw(group(f, depth + 1)) if depth < 3 and draw(st.booleans()) else draw(scalar_field(f))
        for f in draw(st.lists(st.integers(1, 20), max_size=3))
    )
    return key(field, 3) + inner + key(field, 4)


@st.composite
def message(draw: st.DrawFn, name: str, depth: int = 0) -> bytes:
    """A message of random fields: the schema's (often), unknown ones, extensions, groups."""
    fields = SCHEMA[name]
    known = sorted(fields)
    chosen = draw(
        st.lists(
            st.one_of(
                *[st.sampled_from(known) if known else st.integers(1, 15)] * 8,
                st.integers(1, 15),
                st.integers(1000, 1999),
                st.integers(9000, 9999),
                st.just(2**29 - 1),
            ),
            max_size=6 if depth < 4 else 2,
        )
    )
    out = b""
    for field in chosen:
        kind = fields.get(field)
        if kind in SCHEMA and depth < 5 and draw(st.integers(0, 9)):
            out += length_delimited(field, draw(message(kind, depth + 1)))
        elif kind == STRING and draw(st.integers(0, 9)):
            out += length_delimited(field, draw(strings))
        elif draw(st.integers(0, 9)) == 0:
            out += draw(group(field, 0))
        else:
            out += draw(scalar_field(field))
    return out


@st.composite
def trip_update_entity(draw: st.DrawFn) -> bytes:
    """A FeedEntity with a trip update of several stop-time updates, random fields around."""
    trip_id = length_delimited(1, draw(st.text(min_size=1, max_size=4)).encode())
    parts = [length_delimited(1, trip_id + draw(message("TripDescriptor", 3)))]
    for _ in range(draw(st.integers(0, 6))):
        parts.append(length_delimited(2, draw(message("StopTimeUpdate", 3))))
    parts.append(draw(message("TripUpdate", 2)))
    trip_update = b"".join(draw(st.permutations(parts)))
    entity = [length_delimited(3, trip_update), draw(message("FeedEntity", 1))]
    return length_delimited(2, b"".join(draw(st.permutations(entity))))


def trip_updates_message() -> st.SearchStrategy[bytes]:
    """A FeedMessage of entities with trip updates, with random fields in between."""
    entity = st.one_of(
        trip_update_entity(), message("FeedEntity", 1).map(lambda body: length_delimited(2, body))
    )
    return st.tuples(st.lists(entity, max_size=4), message("FeedMessage")).map(
        lambda parts: HEADER + b"".join(parts[0]) + parts[1]
    )
