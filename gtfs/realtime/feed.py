"""Decoding GTFS-Realtime FeedMessages and the per-feed report (staleness, unknown ids)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2

FeedMessage = gtfs_realtime_pb2.FeedMessage
Int64Array = npt.NDArray[np.int64]

#: A feed whose header is older than this is stale unless the caller configures otherwise.
DEFAULT_MAX_AGE_S = 300

#: How many unknown ids a report lists (the counts are always complete).
SAMPLE_SIZE = 10

SUPPORTED_MAJOR_VERSIONS = ("1", "2")

#: The latest POSIX time a feed may carry (2100-01-01): past it a timestamp is garbage, and
#: an age computed from it overflows what JSON and datetimes hold.
MAX_TIMESTAMP_S = 4_102_444_800


class RealtimeFeedError(ValueError):
    """The bytes are not a usable GTFS-Realtime feed; the previous state stays in force."""


class FeedDecodeError(RealtimeFeedError):
    """The bytes do not decode as a GTFS-Realtime FeedMessage (garbage, HTML, truncated)."""


class FeedVersionError(RealtimeFeedError):
    """The FeedMessage declares a gtfs_realtime_version this gateway does not read."""


def parse_feed_message(data: bytes) -> gtfs_realtime_pb2.FeedMessage:
    """Decode FeedMessage bytes with the official bindings; raise `RealtimeFeedError` if bad."""
    if not data:
        raise FeedDecodeError("empty body: a GTFS-Realtime FeedMessage has at least a header")
    message = gtfs_realtime_pb2.FeedMessage()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        head = data[:16]
        raise FeedDecodeError(
            f"{len(data)} bytes starting {head!r} are not a GTFS-Realtime FeedMessage: {exc}"
        ) from exc
    version = message.header.gtfs_realtime_version.strip()
    if not version:
        raise FeedDecodeError(
            f"{len(data)} bytes decode to a message without header.gtfs_realtime_version:"
            " not a GTFS-Realtime FeedMessage"
        )
    if version.split(".", 1)[0] not in SUPPORTED_MAJOR_VERSIONS:
        raise FeedVersionError(
            f"gtfs_realtime_version {version!r} is not supported (expected 1.x or 2.x)"
        )
    if message.header.timestamp > MAX_TIMESTAMP_S:
        raise FeedDecodeError(
            f"header.timestamp {message.header.timestamp} is not a time (POSIX seconds before"
            f" {MAX_TIMESTAMP_S}, 2100-01-01)"
        )
    return message


def feed_text(data: bytes, start: int, length: int, name: str) -> str:
    """Return a string field of a feed's bytes (a `FeedDecodeError` when it is not UTF-8)."""
    try:
        return data[start : start + length].decode()
    except UnicodeDecodeError as exc:
        raise FeedDecodeError(f"{name} at byte {start} is not UTF-8 text: {exc.reason}") from exc


def feed_texts(data: bytes, starts: Int64Array, lengths: Int64Array, name: str) -> list[str]:
    """Return string fields of a feed's bytes (a `FeedDecodeError` at the first not UTF-8)."""
    try:
        return [
            data[start : start + length].decode()
            for start, length in zip(starts.tolist(), lengths.tolist(), strict=True)
        ]
    except UnicodeDecodeError:
        for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
            feed_text(data, start, length, name)
        raise


def feed_age_s(message: gtfs_realtime_pb2.FeedMessage, now_s: int) -> int | None:
    """Return how old the feed header is at `now_s`, or None when it carries no timestamp."""
    timestamp_s = int(message.header.timestamp)
    if timestamp_s <= 0:
        return None
    return now_s - timestamp_s


def is_stale(age_s: int | None, max_age_s: int) -> bool:
    """Tell whether a feed of that age is stale (a feed without a timestamp always is)."""
    return age_s is None or age_s > max_age_s


@dataclass(slots=True)
class IdTally:
    """Counts ids that did not resolve against the timetable and keeps a few to show."""

    count: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, unknown_id: str) -> None:
        """Count one unknown id, keeping it as a sample while there is room."""
        self.count += 1
        if len(self.samples) < SAMPLE_SIZE and unknown_id not in self.samples:
            self.samples.append(unknown_id)

    def add_all(self, unknown_ids: Iterable[str]) -> None:
        """Count several unknown ids."""
        for unknown_id in unknown_ids:
            self.add(unknown_id)


@dataclass(frozen=True, slots=True)
class FeedReport:
    """What one ingested feed contained and what did not match the timetable (JSON-ready)."""

    operator_id: str
    feed_kind: str
    header_timestamp_s: int | None
    age_s: int | None
    stale: bool
    entity_count: int
    accepted_count: int
    unknown_trip_count: int = 0
    unknown_stop_count: int = 0
    unsupported_count: int = 0
    unknown_trip_samples: tuple[str, ...] = ()
    unknown_stop_samples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportCounts:
    """The counts a feed reader gathers while mapping entities, before the report is made."""

    accepted_count: int
    unknown_trips: IdTally
    unknown_stops: IdTally
    unsupported_count: int = 0


def make_report(
    message: gtfs_realtime_pb2.FeedMessage,
    operator_id: str,
    feed_kind: str,
    counts: ReportCounts,
    *,
    now_s: int,
    max_age_s: int,
) -> FeedReport:
    """Build the report of one feed from its header and the counts gathered while mapping it."""
    age_s = feed_age_s(message, now_s)
    timestamp_s = int(message.header.timestamp)
    return FeedReport(
        operator_id=operator_id,
        feed_kind=feed_kind,
        header_timestamp_s=timestamp_s or None,
        age_s=age_s,
        stale=is_stale(age_s, max_age_s),
        entity_count=len(message.entity),
        accepted_count=counts.accepted_count,
        unknown_trip_count=counts.unknown_trips.count,
        unknown_stop_count=counts.unknown_stops.count,
        unsupported_count=counts.unsupported_count,
        unknown_trip_samples=tuple(counts.unknown_trips.samples),
        unknown_stop_samples=tuple(counts.unknown_stops.samples),
    )
