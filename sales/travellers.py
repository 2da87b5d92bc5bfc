"""A booking's travellers are its offers': the client may repeat them, never change them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from sales.errors import TravellersMismatch
from sales.schemas import Traveller


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    keys = ("rider_category", "ref")
    return [tuple(t.get(k) for k in keys) for t in a] == [tuple(t.get(k) for k in keys) for t in b]


def travellers_of(
    offers: Sequence[asyncpg.Record], given: list[Traveller] | None
) -> list[dict[str, Any]]:
    """Return the travellers every offer was priced for (`TravellersMismatch` if they differ)."""
    travellers: list[dict[str, Any]] = list(offers[0]["travellers"])
    for offer in offers[1:]:
        if not _same(offer["travellers"], travellers):
            raise TravellersMismatch(
                f"offers {offers[0]['id']} and {offer['id']} are for different travellers; "
                "book them separately or ask for offers for the same travellers"
            )
    if given is not None and not _same([t.model_dump() for t in given], travellers):
        raise TravellersMismatch(
            "body.travellers must be the travellers the offers were priced for "
            "(or left out: they are taken from the offers)"
        )
    return travellers
