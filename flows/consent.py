"""Consent per purpose, with a Kantara-style consent receipt for every grant and withdrawal.

Receipts go to `flow_consent_receipts`, which the database keeps append-only.
A stored receipt names the traveller only by their audit HMAC (`flows.audit`):
the app gets the receipt with its reference, the log keeps it without. A
withdrawal also deletes the traveller's trip records that are still linkable
(their period's key exists), so no later release counts them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg

from flows.audit import audit_key, principal, principal_of, stored_principal_id
from flows.config import Controller
from flows.errors import TravellerNotFound
from flows.pseudonyms import pseudonyms_of

Purpose = Literal["trip-statistics"]
Action = Literal["grant", "withdraw", "erase"]
CONSENT_LEGAL_BASIS = "consent, GDPR art. 6(1)(a)"
PURPOSES: dict[str, dict[str, Any]] = {
    "trip-statistics": {
        "service": "Trip flows for city traffic planning",
        "purpose": "Count journeys between zones per time bucket, anonymised and aggregated, "
        "for the city's traffic planning",
        "purposeCategory": ["statistics", "public-transport planning"],
        "piiCategory": [
            "travel history: zones of the first boarding and last alighting stop, "
            "date and hour of departure, modes, operators"
        ],
        "termination": "until withdrawn; raw trip records are deleted after aggregation "
        "plus the retention period",
        "thirdPartyName": "the city's traffic planners, only as aggregated releases",
    }
}


@dataclass(frozen=True, slots=True)
class Receipt:
    """A consent receipt as handed to the app and kept in the audit log."""

    id: uuid.UUID
    document: dict[str, Any]


def _service(purpose: str) -> dict[str, Any]:
    spec = PURPOSES[purpose]
    return {
        "service": spec["service"],
        "purposes": [
            {
                "purpose": spec["purpose"],
                "purposeCategory": spec["purposeCategory"],
                "consentType": "EXPLICIT",
                "piiCategory": spec["piiCategory"],
                "primaryPurpose": False,
                "termination": spec["termination"],
                "thirdPartyDisclosure": True,
                "thirdPartyName": spec["thirdPartyName"],
            }
        ],
    }


def build_receipt(
    controller: Controller,
    tenant_id: str,
    traveller_ref: str,
    purpose: str | None,
    action: Action,
    at: datetime,
) -> Receipt:
    """Return a receipt with the fields of the Kantara Consent Receipt specification 1.1."""
    receipt_id = uuid.uuid4()
    services = [] if purpose is None else [_service(purpose)]
    document = {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": controller.jurisdiction,
        "consentTimestamp": int(at.timestamp()),
        "collectionMethod": f"recorded by the MaaS app {tenant_id!r} through the gateway API",
        "consentReceiptID": str(receipt_id),
        "language": controller.language,
        "piiPrincipalId": traveller_ref,
        "piiControllers": [
            {
                "piiController": controller.name,
                "contact": controller.contact,
                "address": controller.address,
                "email": controller.contact,
                "piiControllerUrl": controller.policy_url,
            }
        ],
        "policyUrl": controller.policy_url,
        "services": services,
        "sensitive": False,
        "spiCat": [],
        "action": action,
        "legalBasis": CONSENT_LEGAL_BASIS,
        "app": tenant_id,
        "issuedAt": at.isoformat(),
    }
    return Receipt(receipt_id, document)


def _stored(receipt: Receipt, name: bytes) -> dict[str, Any]:
    return {**receipt.document, "piiPrincipalId": stored_principal_id(name)}


async def append_receipt(
    conn: asyncpg.Connection,
    tenant_id: str,
    traveller_ref: str,
    purpose: str | None,
    action: Action,
    receipt: Receipt,
) -> None:
    """Append a receipt to the audit log, filed under the traveller's audit HMAC."""
    name = await principal_of(conn, tenant_id, traveller_ref)
    await conn.execute(
        """INSERT INTO flow_consent_receipts (id, tenant_id, principal, purpose, action, receipt)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        receipt.id,
        tenant_id,
        name,
        purpose,
        action,
        _stored(receipt, name),
    )


async def grant(
    pool: asyncpg.Pool, controller: Controller, tenant_id: str, traveller_ref: str, purpose: str
) -> Receipt:
    """Record a grant (a repeated grant keeps the first time) and return its receipt."""
    now = datetime.now(UTC)
    receipt = build_receipt(controller, tenant_id, traveller_ref, purpose, "grant", now)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO flow_consents (tenant_id, traveller_ref, purpose, granted_at, receipt_id)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
            tenant_id,
            traveller_ref,
            purpose,
            now,
            receipt.id,
        )
        await append_receipt(conn, tenant_id, traveller_ref, purpose, "grant", receipt)
    return receipt


async def grant_all(
    pool: asyncpg.Pool, controller: Controller, tenant_id: str, refs: list[str], purpose: str
) -> list[Receipt]:
    """Record the grants of many travellers at once (the demo's), each with its receipt."""
    now = datetime.now(UTC)
    receipts = [build_receipt(controller, tenant_id, ref, purpose, "grant", now) for ref in refs]
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            """INSERT INTO flow_consents (tenant_id, traveller_ref, purpose, granted_at, receipt_id)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
            [(tenant_id, ref, purpose, now, r.id) for ref, r in zip(refs, receipts, strict=True)],
        )
        key = await audit_key(conn)
        names = [principal(key, tenant_id, ref) for ref in refs]
        await conn.executemany(
            """INSERT INTO flow_consent_receipts
                   (id, tenant_id, principal, purpose, action, receipt)
               VALUES ($1, $2, $3, $4, 'grant', $5)""",
            [
                (r.id, tenant_id, name, purpose, _stored(r, name))
                for name, r in zip(names, receipts, strict=True)
            ],
        )
    return receipts


#: SQL: a booking's (or offer's) travellers name $2 as one of theirs (`ref`).
NAMED_AS_TRAVELLER = "travellers @> jsonb_build_array(jsonb_build_object('ref', $2::text))"


async def known_traveller(conn: asyncpg.Connection, tenant_id: str, traveller_ref: str) -> bool:
    """Tell whether the tenant has anything stored about the traveller."""
    found: bool = await conn.fetchval(
        f"""SELECT EXISTS (SELECT 1 FROM flow_consent_receipts
                          WHERE tenant_id = $1 AND principal = $3)
               OR EXISTS (SELECT 1 FROM bookings WHERE tenant_id = $1
                          AND (traveller_ref = $2 OR {NAMED_AS_TRAVELLER}))""",
        tenant_id,
        traveller_ref,
        await principal_of(conn, tenant_id, traveller_ref),
    )
    return found


async def delete_trip_records(conn: asyncpg.Connection, tenant_id: str, traveller_ref: str) -> int:
    """Delete every trip record still linkable to the traveller; return how many went."""
    deleted = 0
    for period, name in (await pseudonyms_of(conn, tenant_id, traveller_ref)).items():
        status = await conn.execute(
            "DELETE FROM flow_trip_records WHERE period = $1 AND pseudonym = $2", period, name
        )
        deleted += int(status.split()[-1])
        await conn.execute(
            "DELETE FROM flow_trip_counts WHERE period = $1 AND pseudonym = $2", period, name
        )
    return deleted


async def withdraw(
    pool: asyncpg.Pool, controller: Controller, tenant_id: str, traveller_ref: str, purpose: str
) -> Receipt:
    """Record a withdrawal, forget the traveller's trip records, return the receipt."""
    receipt = build_receipt(
        controller, tenant_id, traveller_ref, purpose, "withdraw", datetime.now(UTC)
    )
    async with pool.acquire() as conn, conn.transaction():
        if not await known_traveller(conn, tenant_id, traveller_ref):
            raise TravellerNotFound(f"traveller {traveller_ref!r} does not exist")
        await conn.execute(
            "DELETE FROM flow_consents "
            "WHERE tenant_id = $1 AND traveller_ref = $2 AND purpose = $3",
            tenant_id,
            traveller_ref,
            purpose,
        )
        await delete_trip_records(conn, tenant_id, traveller_ref)
        await append_receipt(conn, tenant_id, traveller_ref, purpose, "withdraw", receipt)
    return receipt
