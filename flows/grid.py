"""A release's grid: every origin x destination x bucket (x mode x operator) cell.

The grid is fixed in advance from public facts (the zones, the calendar, the
network's modes and operators), so which cells a release lists reveals nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from flows.periods import Period

Bucket = Literal["hour", "part_of_day", "day"]
Dimension = Literal["mode", "operator"]
ALL = "*"
PARTS_OF_DAY = ("night", "morning", "midday", "afternoon", "evening")
#: Each part of the day as its first hour (night is 00-05, evening 19-23).
_PART_STARTS = ((6, "night"), (10, "morning"), (15, "midday"), (19, "afternoon"))


def bucket_sql(bucket: Bucket) -> tuple[str, str]:
    """Return a record's raw bucket (an integer or a date) and the label template of one `{x}`.

    Records are grouped by the raw value; only the grouped cells get their labels.
    """
    if bucket == "hour":
        return "hour", "lpad({x}::text, 2, '0')"
    if bucket == "day":
        return "service_date", "{x}::text"
    index = " ".join(f"WHEN hour < {end} THEN {i}" for i, (end, _) in enumerate(_PART_STARTS))
    names = " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(PARTS_OF_DAY))
    return f"CASE {index} ELSE {len(_PART_STARTS)} END", f"CASE {{x}} {names} END"


def bucket_labels(bucket: Bucket, period: Period) -> list[str]:
    """Return every bucket of a period, in order."""
    if bucket == "hour":
        return [f"{h:02d}" for h in range(24)]
    if bucket == "part_of_day":
        return list(PARTS_OF_DAY)
    first = period.starts_at.date()
    days = (period.ends_at.date() - first).days
    return [(first + timedelta(days=i)).isoformat() for i in range(days)]


@dataclass(frozen=True, slots=True)
class Grid:
    """The cells of a release."""

    zones: tuple[str, ...]
    buckets: tuple[str, ...]
    modes: tuple[str, ...]
    operators: tuple[str, ...]

    @property
    def size(self) -> int:
        """Return the number of cells."""
        return len(self.zones) ** 2 * len(self.buckets) * len(self.modes) * len(self.operators)
