"""An operator's own sales: its booking legs, a page at a time, and a daily summary."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, Field, model_validator

from gateway import operator_store
from gateway.api import api, require_own_operator
from gateway.appkeys import db_key
from gateway.pagination import decode_time_id, encode_time_id
from gateway.problems import not_found
from sales.reports import DailySales, LegStatus, OperatorLeg, daily_sales, list_operator_legs
from sales.schemas import Day, Strict


class OperatorLegsQuery(Strict):
    """Which of the operator's legs, a page at a time."""

    status: LegStatus | None = Field(default=None, description="only legs in this state")
    cursor: str | None = Field(
        default=None, max_length=200, description="`next_cursor` of the previous page"
    )
    limit: int = Field(default=50, ge=1, le=200, description="legs per page")


class OperatorLegPage(BaseModel):
    """A page of an operator's legs, newest booking first."""

    items: list[OperatorLeg] = Field(description="the legs of this page")
    next_cursor: str | None = Field(default=None, description="pass back as `cursor`")


class DailyQuery(Strict):
    """The days of the summary, inclusive, in the operator's time zone (default: the last 30)."""

    from_: Day | None = Field(default=None, alias="from", description="the first day")
    to: Day | None = Field(default=None, description="the last day (default: today)")

    @model_validator(mode="after")
    def _ordered(self) -> DailyQuery:
        if self.from_ and self.to and self.to < self.from_:
            raise ValueError("to is before from")
        return self


class DailySalesList(BaseModel):
    """Sales per day and currency; days without sales are left out."""

    operator_id: str = Field(description="the operator")
    first_day: dt.date = Field(description="the first day summed")
    last_day: dt.date = Field(description="the last day summed")
    timezone: str = Field(description="the operator's time zone, in which days are counted")
    items: list[DailySales] = Field(description="one entry per day and currency with sales")


async def _operator(request: web.Request) -> operator_store.Operator:
    operator_id = request.match_info["id"]
    require_own_operator(request, operator_id)
    found = await operator_store.find_operator(request.app[db_key], operator_id)
    if found is None:
        raise not_found("operator", operator_id)
    return found


@api.route(
    "GET",
    "/v1/operators/{id}/bookings",
    summary="The operator's booking legs (no traveller data)",
    tag="operators",
    roles=("operator", "admin"),
    query=OperatorLegsQuery,
    response=OperatorLegPage,
    errors=("not_found", "invalid_cursor"),
)
async def get_operator_legs(request: web.Request, query: OperatorLegsQuery) -> OperatorLegPage:
    """List the legs sold for the operator, newest booking first, by cursor."""
    operator = await _operator(request)
    after = decode_time_id(query.cursor)
    items, following = await list_operator_legs(
        request.app[db_key], operator.id, query.status, after, query.limit
    )
    return OperatorLegPage(
        items=items, next_cursor=encode_time_id(*following) if following else None
    )


@api.route(
    "GET",
    "/v1/operators/{id}/sales/daily",
    summary="The operator's sales per day and currency",
    tag="operators",
    roles=("operator", "admin"),
    query=DailyQuery,
    response=DailySalesList,
    errors=("not_found", "invalid_report_period"),
)
async def get_daily_sales(request: web.Request, query: DailyQuery) -> DailySalesList:
    """Sum the operator's legs sold and cancelled per day (in its time zone) and currency."""
    operator = await _operator(request)
    today = dt.datetime.now(ZoneInfo(operator.timezone)).date()
    last = query.to or today
    first = query.from_ or last - dt.timedelta(days=29)
    items = await daily_sales(request.app[db_key], operator.id, first, last)
    return DailySalesList(
        operator_id=operator.id,
        first_day=first,
        last_day=last,
        timezone=operator.timezone,
        items=items,
    )
