"""The plain outcomes of a round of calls, settled in one statement each.

Every reservation made, or every leg confirmed: `settled_plainly` settles that after
the answers are recorded. A one-leg booking whose operator gave the plain answer
records the answer and settles in the same statement (`one_leg_settled`), one round
trip and one commit fewer per step; its answer is recorded when it arrives either way.

All of it relies on one invariant: only the lease holder moves the legs of a PENDING
or CONFIRMING booking, and every other change of such a booking moves its row (whose
WHERE is checked again on the newest row after waiting for its lock), so what these
statements read of the legs is what the booking's lock would see. Anything else (a
refusal, a conditional commit, a ticket already there, a signing failure) is left to
the settling transaction under the booking's lock (`sales.settle`).
"""

from __future__ import annotations

import logging
import uuid

import asyncpg

from sales import tickets
from sales.legs import Sales

log = logging.getLogger(__name__)

#: The settling of a reservation every operator made, in one statement: a PENDING booking
#: whose legs are all PENDING has nothing to move, owes nothing and frees nothing, so all
#: that is left is to clear the lease.
_RESERVED = """
UPDATE bookings SET settle_after = NULL
WHERE id = $1 AND status = 'PENDING'
  AND NOT EXISTS (SELECT 1 FROM booking_legs WHERE booking_id = $1 AND status <> 'PENDING')
RETURNING true"""

#: The tickets (signed beforehand) of a confirmation, stored once its booking is `done`.
_ISSUED = """
     issued AS (
       INSERT INTO tickets (id, booking_leg_id, booking_id, operator_id, kid, token,
                            valid_from, valid_until, status_idx)
       SELECT t.id, t.leg_id, d.id, t.operator_id, t.kid, t.token, t.valid_from,
              t.valid_until, t.status_idx
       FROM done d,
            unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                   $7::timestamptz[], $8::timestamptz[], $9::bigint[])
            AS t(id, leg_id, operator_id, kid, token, valid_from, valid_until, status_idx))"""

#: The settling of a confirmation every operator made, in one statement, as the settling
#: transaction would do it: the tickets stored, the booking CONFIRMED with its lease
#: cleared and its event written. It applies only to a CONFIRMING booking whose legs are
#: exactly the ones signed, all CONFIRMED, none with a ticket yet.
_CONFIRMED = f"""
WITH done AS (
       UPDATE bookings SET status = 'CONFIRMED', updated_at = now(), settle_after = NULL
       WHERE id = $1 AND status = 'CONFIRMING'
         AND (SELECT count(*) FILTER (WHERE status = 'CONFIRMED' AND id = ANY($3))
                     = cardinality($3) AND count(*) = cardinality($3)
              FROM booking_legs WHERE booking_id = $1)
         AND NOT EXISTS (SELECT 1 FROM tickets WHERE booking_id = $1)
       RETURNING id, tenant_id),{_ISSUED},
     logged AS (INSERT INTO booking_events (booking_id, tenant_id, type, payload)
                SELECT id, tenant_id, 'booking.confirmed', '{{}}'::jsonb FROM done)
SELECT count(*) > 0 FROM done"""


async def settled_plainly(
    sales: Sales, booking_id: uuid.UUID, called: list[asyncpg.Record] | None
) -> tuple[bool, bool] | None:
    """Settle the plain outcome of a reservation or a confirmation in one statement, if it is.

    Returns what `settle.settle_owed` does; None when it is not that outcome (or nothing
    was called): the settling transaction decides.
    """
    states = {leg["status"] for leg in called or ()}
    if states == {"RESERVING"}:
        if await sales.pool.fetchval(_RESERVED, booking_id):
            return False, False
    elif states == {"CONFIRMING"} and called:
        done = await _signed_and_stored(sales, booking_id, called, _CONFIRMED)
        return (True, False) if done else None
    return None


async def _signed_and_stored(
    sales: Sales,
    booking_id: uuid.UUID,
    legs: list[asyncpg.Record],
    statement: str,
    *more: object,
) -> bool | None:
    """Sign the legs' tickets and run a statement that stores them ($1-$9, then `more`).

    Returns what the statement returns; None when signing or storing failed (the settling
    transaction then tries, and says why).
    """
    try:
        issued = await tickets.sign_all(
            sales.pool, legs, sales.signing_secret, sales.public_url, sales.cache
        )
        done: bool = await sales.pool.fetchval(
            statement,
            booking_id,
            [t.id for t in issued],
            [t.leg_id for t in issued],
            [t.operator_id for t in issued],
            [t.kid for t in issued],
            [t.token for t in issued],
            [t.valid_from for t in issued],
            [t.valid_until for t in issued],
            [t.status_idx for t in issued],
            *more,
        )
    except Exception:  # a failure to sign or store: the settling transaction tries, and says
        log.debug("tickets not issued in one statement", extra={"booking": str(booking_id)})
        return None
    return done


#: A one-leg booking's reservation answered and settled in one statement: the leg PENDING
#: with its operator's reference and its event, and the lease cleared, as `record_leg`
#: and `_RESERVED` would do one after the other; nothing if the booking is not a PENDING
#: one whose only leg is still RESERVING (the leg then is recorded the usual way).
_ONE_RESERVED = """
WITH fits AS (
       SELECT 1 FROM bookings b
       WHERE b.id = $1 AND b.status = 'PENDING'
         AND (SELECT count(*) FILTER (WHERE id = $2 AND status = 'RESERVING') = 1
                     AND count(*) = 1
              FROM booking_legs WHERE booking_id = $1)),
     moved AS (
       UPDATE booking_legs SET status = 'PENDING', operator_ref = coalesce($3, operator_ref)
       WHERE id = $2 AND booking_id = $1 AND status = 'RESERVING' AND EXISTS (SELECT FROM fits)
       RETURNING booking_id),
     settled AS (
       UPDATE bookings SET settle_after = NULL
       WHERE id = $1 AND status = 'PENDING' AND EXISTS (SELECT FROM moved)
       RETURNING id),
     logged AS (INSERT INTO booking_events (booking_id, tenant_id, type, payload)
                SELECT booking_id, $4, 'leg.pending', $5::jsonb FROM moved)
SELECT EXISTS (SELECT FROM settled)"""

#: A one-leg booking's confirmation answered and settled in one statement: the leg
#: CONFIRMED with its reference, its ticket (signed beforehand) stored, the booking
#: CONFIRMED with its lease cleared, and the two events in their order, as `record_leg`
#: and `_CONFIRMED` would do one after the other; nothing if the booking is not a
#: CONFIRMING one whose only leg is still CONFIRMING with no ticket.
_ONE_CONFIRMED = f"""
WITH fits AS (
       SELECT 1 FROM bookings b
       WHERE b.id = $1 AND b.status = 'CONFIRMING'
         AND (SELECT count(*) FILTER (WHERE id = $10 AND status = 'CONFIRMING') = 1
                     AND count(*) = 1 AND $10 = ALL($3)
              FROM booking_legs WHERE booking_id = $1)
         AND NOT EXISTS (SELECT 1 FROM tickets WHERE booking_id = $1)),
     moved AS (
       UPDATE booking_legs SET status = 'CONFIRMED', operator_ref = coalesce($11, operator_ref)
       WHERE id = $10 AND booking_id = $1 AND status = 'CONFIRMING'
         AND EXISTS (SELECT FROM fits)
       RETURNING booking_id),
     done AS (
       UPDATE bookings SET status = 'CONFIRMED', updated_at = now(), settle_after = NULL
       WHERE id = $1 AND status = 'CONFIRMING' AND EXISTS (SELECT FROM moved)
       RETURNING id, tenant_id),{_ISSUED},
     logged AS (
       INSERT INTO booking_events (booking_id, tenant_id, type, payload)
       SELECT e.booking_id, e.tenant_id, e.type, e.payload FROM (
           SELECT 1 AS n, booking_id, $12::text AS tenant_id, 'leg.confirmed' AS type,
                  $13::jsonb AS payload FROM moved
           UNION ALL
           SELECT 2, id, tenant_id, 'booking.confirmed', '{{}}'::jsonb FROM done) e
       ORDER BY e.n)
SELECT EXISTS (SELECT FROM done)"""


async def one_leg_settled(
    sales: Sales, booking_id: uuid.UUID, leg: asyncpg.Record, operator_ref: str | None
) -> bool:
    """Record the plain answer of a one-leg booking's only leg and settle it, in one statement.

    `leg` was RESERVING (its reservation made) or CONFIRMING (its commit made, with its
    ticket's `status_idx`). False when the statement did not apply, or failed: nothing
    of it was written, and the caller records the answer and settles the usual way.
    """
    tenant_id = leg["booking_tenant_id"]
    payload = {"leg": str(leg["id"]), "was": leg["status"]}
    if leg["status"] == "RESERVING":
        reserved: bool = await sales.pool.fetchval(
            _ONE_RESERVED, booking_id, leg["id"], operator_ref, tenant_id, payload
        )
        return reserved
    done = await _signed_and_stored(
        sales, booking_id, [leg], _ONE_CONFIRMED, leg["id"], operator_ref, tenant_id, payload
    )
    return bool(done)
