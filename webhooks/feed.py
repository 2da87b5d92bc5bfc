"""The outbox read back: a party's events in a gap-free order, from any point.

Ids are taken when a row is written, not when it commits, so paging by id alone
could pass an event that commits late. Events are read in `(txid, id)` order and
only those of transactions older than every running one: a later page can then
only hold events ordered after the ones already read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from webhooks.errors import UnknownEventCursor


@dataclass(frozen=True, slots=True)
class Event:
    """One state change of one object, as receivers see it."""

    id: int
    type: str
    object_type: str
    object_id: str
    seq: int
    created_at: datetime
    data: dict[str, Any]

    def message(self) -> dict[str, Any]:
        """Return the webhook body: Standard Webhooks' `type`, `timestamp` and `data`."""
        return {
            "type": self.type,
            "timestamp": self.created_at.isoformat(),
            "data": {
                "event_id": self.id,
                "object_type": self.object_type,
                "object_id": self.object_id,
                "seq": self.seq,
                **self.data,
            },
        }


def event_of(row: asyncpg.Record) -> Event:
    """Return the event of an `events` row."""
    return Event(
        row["id"],
        row["type"],
        row["object_type"],
        row["object_id"],
        row["seq"],
        row["created_at"],
        dict(row["payload"]),
    )


_LIST = """
SELECT * FROM events e
WHERE ($1::text IS NULL OR e.owners @> ARRAY[$1::text])
  AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
  AND ($2::text IS NULL OR (e.txid, e.id) > ($2::text::xid8, $3::bigint))
ORDER BY e.txid, e.id
LIMIT $4
"""


async def list_events(
    pool: asyncpg.Pool, owner: str | None, after: int | None, limit: int
) -> list[Event]:
    """Return up to `limit` of an owner's events after the event `after` (all for None)."""
    txid = None
    if after:
        txid = await pool.fetchval("SELECT txid::text FROM events WHERE id = $1", after)
        if txid is None:
            raise UnknownEventCursor(f"query.after: no event {after}")
    rows = await pool.fetch(_LIST, owner, txid, after or 0, limit)
    return [event_of(r) for r in rows]
