"""An in-process cache of rows that rarely change, dropped when any process changes them.

Triggers (migration 100) send `NOTIFY maas_cache, '<table>'` in the writer's
transaction; every gateway process LISTENs (gateway/cache_listen.py) and drops
the sections that table feeds. The cache answers only while that LISTEN
connection is up (`live`): with no way to hear of a change, every lookup reads
the database. A bounded TTL is the safety net for a notification lost anyway.

A load that started before a drop is not stored: it may have read the old row.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar, cast

T = TypeVar("T")

#: The channel the triggers notify on.
CACHE_CHANNEL = "maas_cache"
#: What each table's change drops: sections are named for what is cached.
SECTIONS: dict[str, tuple[str, ...]] = {
    "api_keys": ("api_keys",),
    "operators": ("operators", "fares"),
    "operator_conditions": ("operators",),
    "fare_versions": ("fares",),
    "feed_versions": ("fares",),
    "signing_keys": ("signing_keys",),
}
#: How long an entry is trusted at most, notifications or not.
TTL_S = 30.0


class Cache:
    """Entries by (section, key), each with a deadline; answers only while `live`."""

    def __init__(self, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        self._live = False
        self._generation = 0
        self._entries: dict[tuple[str, Hashable], tuple[float, object]] = {}

    @property
    def live(self) -> bool:
        """Whether changes are being heard of (the LISTEN connection is up)."""
        return self._live

    def set_live(self, live: bool) -> None:
        """Start or stop answering from memory; either way, forget everything known."""
        self._live = live
        self.drop_all()

    def drop_all(self) -> None:
        """Forget every entry (a reconnect: notifications may have been missed)."""
        self._generation += 1
        self._entries.clear()

    def changed(self, table: str) -> None:
        """Forget the sections a change of `table` makes stale (every one if unknown)."""
        sections = SECTIONS.get(table)
        if sections is None:
            self.drop_all()
            return
        self._generation += 1
        for entry in [e for e in self._entries if e[0] in sections]:
            del self._entries[entry]

    async def get(
        self,
        section: str,
        key: Hashable,
        load: Callable[[], Awaitable[T]],
        keep_s: Callable[[T], float] | None = None,
    ) -> T:
        """Return the entry, or `load()` it and keep it (`keep_s(value)` seconds, at most the TTL).

        A `None` loaded is not kept: unknown keys must not fill the memory.
        """
        now = time.monotonic()
        if self._live and (hit := self._entries.get((section, key))) is not None:
            deadline, value = hit
            if now < deadline:
                return cast("T", value)
        generation = self._generation
        loaded = await load()
        if self._live and generation == self._generation and loaded is not None:
            hold = self.ttl_s if keep_s is None else min(self.ttl_s, keep_s(loaded))
            if hold > 0:
                self._entries[(section, key)] = (now + hold, loaded)
        return loaded
