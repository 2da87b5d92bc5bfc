"""The traveller's rights: a portable export of everything stored about them, and erasure.

Erasure deletes consents and linkable trip records at once and strips the
reference from bookings (kept for accounting), whether it stands as their
`traveller_ref` or as one of their travellers' `ref`, from those travellers'
offers and from the stored replies of their idempotency keys. The consent
receipts stay: the audit log is append-only, since it is the controller's proof
of what was consented to (GDPR art. 7(1)); the erasure itself is appended to
it. The log names the traveller only by their audit HMAC (`flows.audit`), so
after erasure nothing stored names the reference; an export recomputes the HMAC
from the reference asked for and shows the receipts as they were handed out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from flows.audit import principal_of
from flows.config import Controller
from flows.consent import (
    CONSENT_LEGAL_BASIS,
    NAMED_AS_TRAVELLER,
    Receipt,
    append_receipt,
    build_receipt,
    delete_trip_records,
    known_traveller,
)
from flows.errors import TravellerNotFound
from flows.pseudonyms import pseudonyms_of

RECEIPT_LEGAL_BASIS = "legal obligation to demonstrate consent, GDPR art. 7(1) and 6(1)(c)"
BOOKING_LEGAL_BASIS = (
    "contract, GDPR art. 6(1)(b); kept for accounting (Finnish Accounting Act 2:10), 6(1)(c)"
)
_RECORD_COLUMNS = (
    "period, origin_fare, destination_fare, to_hex(origin_h3) AS origin_h3, "
    "to_hex(destination_h3) AS destination_h3, districts, service_date, hour, modes, "
    "operators, legs, synthetic"
)


async def _trip_records(
    conn: asyncpg.Connection, tenant_id: str, traveller_ref: str
) -> list[dict[str, Any]]:
    records = []
    for period, name in sorted((await pseudonyms_of(conn, tenant_id, traveller_ref)).items()):
        rows = await conn.fetch(
            f"SELECT {_RECORD_COLUMNS} FROM flow_trip_records "
            "WHERE period = $1 AND pseudonym = $2 ORDER BY id",
            period,
            name,
        )
        records += [{**dict(r), "legal_basis": CONSENT_LEGAL_BASIS} for r in rows]
    return records


async def _bookings(conn: asyncpg.Connection, tenant_id: str, traveller_ref: str) -> list[Any]:
    rows = await conn.fetch(
        f"""SELECT b.id, b.status, b.total_minor, b.refund_minor, b.currency, b.created_at,
                  coalesce(jsonb_agg(jsonb_build_object(
                      'operator_id', l.operator_id, 'status', l.status,
                      'price_minor', l.price_minor, 'detail', l.detail) ORDER BY l.position)
                      FILTER (WHERE l.id IS NOT NULL), '[]') AS legs
           FROM bookings b LEFT JOIN booking_legs l ON l.booking_id = b.id
           WHERE b.tenant_id = $1 AND (b.traveller_ref = $2 OR b.{NAMED_AS_TRAVELLER})
           GROUP BY b.id ORDER BY b.created_at""",
        tenant_id,
        traveller_ref,
    )
    return [{**dict(r), "legal_basis": BOOKING_LEGAL_BASIS} for r in rows]


def _handed_out(row: asyncpg.Record, traveller_ref: str) -> dict[str, Any]:
    # The log keeps the HMAC in `piiPrincipalId`; the traveller got their reference there.
    receipt = {**row["receipt"], "piiPrincipalId": traveller_ref}
    return {**dict(row), "receipt": receipt, "legal_basis": RECEIPT_LEGAL_BASIS}


async def export_data(pool: asyncpg.Pool, tenant_id: str, traveller_ref: str) -> dict[str, Any]:
    """Return everything stored about a tenant's traveller, with each item's legal basis."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        if not await known_traveller(conn, tenant_id, traveller_ref):
            raise TravellerNotFound(f"traveller {traveller_ref!r} does not exist")
        consents = await conn.fetch(
            "SELECT purpose, granted_at, receipt_id FROM flow_consents "
            "WHERE tenant_id = $1 AND traveller_ref = $2 ORDER BY purpose",
            tenant_id,
            traveller_ref,
        )
        receipts = await conn.fetch(
            "SELECT action, purpose, receipt, created_at FROM flow_consent_receipts "
            "WHERE tenant_id = $1 AND principal = $2 ORDER BY created_at, id",
            tenant_id,
            await principal_of(conn, tenant_id, traveller_ref),
        )
        return {
            "traveller_ref": traveller_ref,
            "app": tenant_id,
            "exported_at": datetime.now(UTC),
            "consents": [{**dict(c), "legal_basis": CONSENT_LEGAL_BASIS} for c in consents],
            "consent_receipts": [_handed_out(r, traveller_ref) for r in receipts],
            "trip_records": await _trip_records(conn, tenant_id, traveller_ref),
            "bookings": await _bookings(conn, tenant_id, traveller_ref),
        }


def _without_ref(travellers: str) -> str:
    """Return SQL for the array `travellers` without the `ref` $2 (order kept)."""
    return f"""(SELECT coalesce(jsonb_agg(CASE WHEN t ->> 'ref' = $2 THEN t - 'ref' ELSE t END
                                  ORDER BY i), '[]')
                FROM jsonb_array_elements({travellers}) WITH ORDINALITY AS e(t, i))"""


async def _unname_bookings(conn: asyncpg.Connection, tenant_id: str, traveller_ref: str) -> None:
    """Take the reference out of the tenant's bookings, their offers and stored replies."""
    # Kept for accounting: only the reference goes, as `traveller_ref` or a traveller's `ref`.
    booking_ids = await conn.fetch(
        f"""UPDATE bookings SET updated_at = now(), travellers = {_without_ref("travellers")},
                   traveller_ref = nullif(traveller_ref, $2)
            WHERE tenant_id = $1 AND (traveller_ref = $2 OR {NAMED_AS_TRAVELLER}) RETURNING id""",
        tenant_id,
        traveller_ref,
    )
    await conn.execute(
        f"UPDATE offers SET travellers = {_without_ref('travellers')} "
        f"WHERE tenant_id = $1 AND {NAMED_AS_TRAVELLER}",
        tenant_id,
        traveller_ref,
    )
    # The stored replays of POST /v1/bookings (and its confirm, cancel) repeat it too.
    await conn.execute(
        f"""UPDATE idempotency_keys
               SET response_body = CASE WHEN response_body ->> 'traveller_ref' = $2
                                        THEN response_body - 'traveller_ref'
                                        ELSE response_body END
                   || CASE WHEN jsonb_typeof(response_body -> 'travellers') = 'array'
                           THEN jsonb_build_object('travellers',
                                    {_without_ref("response_body -> 'travellers'")})
                           ELSE '{{}}' END
            WHERE tenant_id = $1 AND response_body ->> 'id' = ANY($3::text[])""",
        tenant_id,
        traveller_ref,
        [str(r["id"]) for r in booking_ids],
    )


async def erase(
    pool: asyncpg.Pool, controller: Controller, tenant_id: str, traveller_ref: str
) -> Receipt:
    """Erase a traveller: consents and trip records go, bookings lose the reference."""
    receipt = build_receipt(controller, tenant_id, traveller_ref, None, "erase", datetime.now(UTC))
    async with pool.acquire() as conn, conn.transaction():
        if not await known_traveller(conn, tenant_id, traveller_ref):
            raise TravellerNotFound(f"traveller {traveller_ref!r} does not exist")
        await conn.execute(
            "DELETE FROM flow_consents WHERE tenant_id = $1 AND traveller_ref = $2",
            tenant_id,
            traveller_ref,
        )
        await delete_trip_records(conn, tenant_id, traveller_ref)
        await _unname_bookings(conn, tenant_id, traveller_ref)
        await append_receipt(conn, tenant_id, traveller_ref, None, "erase", receipt)
    return receipt
