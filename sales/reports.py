"""What an operator sold through the gateway: its booking legs and a daily summary.

An operator sees only its own legs and nothing of the traveller (no travellers,
no traveller reference): the product, the price, the state and the times. A leg
counts as sold once its ticket was issued (the booking was confirmed), on the
day of that ticket in the operator's time zone; a sold leg cancelled later still
counts as sold that day, and as cancelled.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import asyncpg
from pydantic import BaseModel, Field

from sales.errors import InvalidReportPeriod

LegStatus = Literal["PENDING", "RESERVE_FAILED", "CONFIRMED", "RELEASED", "CANCELLED"]
#: A leg's position in the operator's list: (booked at, leg id), newest first.
LegKey = tuple[dt.datetime, uuid.UUID]
#: The longest period a daily summary covers.
MAX_REPORT_DAYS = 366


class OperatorLeg(BaseModel):
    """One leg an operator sold or is selling: what, for how much, in which state, when."""

    id: uuid.UUID = Field(description="the booking leg")
    booking_id: uuid.UUID = Field(description="the booking the leg belongs to")
    tenant_id: str = Field(description="the MaaS app that sold it")
    status: LegStatus = Field(description="the leg's state at this operator")
    booking_status: str = Field(description="the booking's TOMP-API state")
    product_id: str | None = Field(default=None, description="the fare product sold")
    rider_categories: list[str] = Field(description="one per traveller, as priced")
    trip_id: str | None = Field(default=None, description="for a ride of a journey")
    from_stop_id: str | None = Field(default=None, description="where a ride boards")
    to_stop_id: str | None = Field(default=None, description="where it alights")
    price_minor: int = Field(description="the leg's price in minor units")
    currency: str = Field(description="ISO 4217 currency of `price_minor`")
    valid_from: dt.datetime = Field(description="when its ticket starts to be valid")
    valid_until: dt.datetime = Field(description="when it stops being valid")
    booked_at: dt.datetime = Field(description="when the booking was made")
    sold_at: dt.datetime | None = Field(default=None, description="when its ticket was issued")


class DailySales(BaseModel):
    """One day's sales of an operator in one currency (days in the operator's time zone)."""

    day: dt.date = Field(description="the day, in the operator's time zone")
    currency: str = Field(description="ISO 4217 currency of the amounts")
    legs_sold: int = Field(description="legs whose ticket was issued that day")
    legs_cancelled: int = Field(description="of those, the ones cancelled since")
    sold_minor: int = Field(description="the price of the legs sold")
    cancelled_minor: int = Field(description="the price of the legs sold and cancelled since")
    net_minor: int = Field(description="sold_minor less cancelled_minor")


_LEGS = """
SELECT l.id, l.booking_id, b.tenant_id, l.status, b.status AS booking_status, l.detail,
       l.price_minor, l.currency, b.created_at AS booked_at, t.created_at AS sold_at
FROM booking_legs l
JOIN bookings b ON b.id = l.booking_id
LEFT JOIN tickets t ON t.booking_leg_id = l.id
WHERE l.operator_id = $1 AND ($2::text IS NULL OR l.status = $2)
  AND ($3::timestamptz IS NULL OR (b.created_at, l.id) < ($3, $4))
ORDER BY b.created_at DESC, l.id DESC
LIMIT $5
"""


def _operator_leg(row: asyncpg.Record) -> OperatorLeg:
    detail = row["detail"]
    return OperatorLeg(
        id=row["id"],
        booking_id=row["booking_id"],
        tenant_id=row["tenant_id"],
        status=row["status"],
        booking_status=row["booking_status"],
        product_id=detail.get("product_id"),
        rider_categories=list(detail.get("rider_categories", ())),
        trip_id=detail.get("trip_id"),
        from_stop_id=detail.get("from_stop_id"),
        to_stop_id=detail.get("to_stop_id"),
        price_minor=row["price_minor"],
        currency=row["currency"],
        valid_from=dt.datetime.fromisoformat(detail["valid_from"]),
        valid_until=dt.datetime.fromisoformat(detail["valid_until"]),
        booked_at=row["booked_at"],
        sold_at=row["sold_at"],
    )


async def list_operator_legs(
    pool: asyncpg.Pool,
    operator_id: str,
    status: LegStatus | None,
    after: LegKey | None,
    limit: int,
) -> tuple[list[OperatorLeg], LegKey | None]:
    """Return a page of an operator's legs, newest booking first, and the key of the next."""
    rows = await pool.fetch(
        _LEGS,
        operator_id,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    page = rows[:limit]
    following = (page[-1]["booked_at"], page[-1]["id"]) if len(rows) > limit else None
    return [_operator_leg(r) for r in page], following


_DAILY = """
SELECT (t.created_at AT TIME ZONE o.timezone)::date AS day, l.currency,
       count(*) AS legs_sold,
       count(*) FILTER (WHERE l.status = 'CANCELLED') AS legs_cancelled,
       sum(l.price_minor) AS sold_minor,
       coalesce(sum(l.price_minor) FILTER (WHERE l.status = 'CANCELLED'), 0) AS cancelled_minor
FROM booking_legs l
JOIN tickets t ON t.booking_leg_id = l.id
JOIN operators o ON o.id = l.operator_id
WHERE l.operator_id = $1
  AND (t.created_at AT TIME ZONE o.timezone)::date BETWEEN $2 AND $3
GROUP BY 1, 2
ORDER BY 1, 2
"""


async def daily_sales(
    pool: asyncpg.Pool, operator_id: str, first: dt.date, last: dt.date
) -> list[DailySales]:
    """Return an operator's sales per day and currency from `first` to `last`, inclusive."""
    if last < first:
        raise InvalidReportPeriod(f"to ({last}) is before from ({first})")
    if (last - first).days >= MAX_REPORT_DAYS:
        raise InvalidReportPeriod(f"a summary covers at most {MAX_REPORT_DAYS} days")
    rows = await pool.fetch(_DAILY, operator_id, first, last)
    return [
        DailySales(
            day=r["day"],
            currency=r["currency"],
            legs_sold=r["legs_sold"],
            legs_cancelled=r["legs_cancelled"],
            sold_minor=r["sold_minor"],
            cancelled_minor=r["cancelled_minor"],
            net_minor=r["sold_minor"] - r["cancelled_minor"],
        )
        for r in rows
    ]
