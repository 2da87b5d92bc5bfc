"""How every connection of the gateway encodes and decodes JSON (asyncpg type codecs).

A module of its own so that processes which only import feeds (`maas import-gtfs`, the
upload's publishing child) set up their connections without loading the whole gateway
(`gateway/resources.py` pulls in every service: about 30 MiB).
"""

from __future__ import annotations

import asyncpg
import orjson


async def init_connection(conn: asyncpg.Connection) -> None:
    """Decode json/jsonb columns to Python objects (and encode them back) with orjson."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )
