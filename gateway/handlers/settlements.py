"""Settlement statements: what each app owes each operator per month, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from gateway.api import api, principal
from gateway.appkeys import db_key
from gateway.problems import Problem
from sales.schemas import Strict
from sales.settlement import Line, statement

CSV = "text/csv"


class SettlementQuery(Strict):
    """Which month, and optionally which operator and app (a party sees only its own)."""

    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="the month, `YYYY-MM`")
    operator: str | None = Field(default=None, max_length=100, description="one operator")
    tenant: str | None = Field(default=None, max_length=100, description="one MaaS app")


class SettlementLine(BaseModel):
    """What one app owes one operator in one currency (minor units)."""

    operator_id: str = Field(description="the operator paid")
    tenant_id: str = Field(description="the MaaS app that pays")
    currency: str = Field(description="ISO 4217")
    tickets_sold: int = Field(description="tickets issued in the period")
    sold_minor: int = Field(description="their prices summed")
    refunds: int = Field(description="cancelled tickets refunded in the period")
    refunded_minor: int = Field(description="what was given back")
    fees_minor: int = Field(description="what the operator kept of the cancelled tickets")
    net_minor: int = Field(description="sold less refunded: what the app owes the operator")
    jws: str | None = Field(
        default=None, description="once closed: this line signed by the gateway (JWKS)"
    )


class Settlement(BaseModel):
    """A month's statement; `closed_at` once it is closed, signed and never changes."""

    period: str = Field(description="the month")
    closed_at: datetime | None = Field(default=None, description="when it was closed")
    kid: str | None = Field(default=None, description="the key that signed it (in the JWKS)")
    items: list[SettlementLine] = Field(description="per operator, app and currency")


def _parties(request: web.Request, query: SettlementQuery) -> tuple[str | None, str | None]:
    caller = principal(request)
    operator, tenant = query.operator, query.tenant
    if caller.role == "operator":
        if operator not in (None, caller.operator_id):
            raise Problem(403, "forbidden", "Forbidden", "an operator sees only its own lines")
        operator = caller.operator_id
    elif caller.role == "maas":
        if tenant not in (None, caller.tenant_id):
            raise Problem(403, "forbidden", "Forbidden", "an app sees only its own lines")
        tenant = caller.tenant_id
    return operator, tenant


def _csv(lines: list[Line], period: str) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    fields = [f for f in SettlementLine.model_fields if f != "jws"]
    writer.writerow(["period", *fields])
    for line in lines:
        writer.writerow([period, *(getattr(line, f) for f in fields)])
    return web.Response(
        text=out.getvalue(),
        content_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="settlement-{period}.csv"'},
    )


@api.route(
    "GET",
    "/v1/settlements",
    summary="A month's settlement: tickets sold, refunds, fees and net per operator and app",
    tag="settlements",
    roles=("maas", "operator", "admin"),
    query=SettlementQuery,
    response=Settlement,
    media_types=("application/json", CSV),
    errors=("invalid_report_period",),
)
async def get_settlement(request: web.Request, query: SettlementQuery) -> Settlement | web.Response:
    """Sum the ledger of the month (or show its closed statement); `Accept: text/csv` for CSV.

    A closed statement's lines each carry a JWS signed with the gateway's key from
    `/.well-known/jwks.json`, so the operator and the app can each check the same figures.
    """
    operator, tenant = _parties(request, query)
    found = await statement(request.app[db_key], query.period, operator, tenant)
    if CSV in request.headers.get("Accept", ""):
        return _csv(found.lines, found.period)
    return Settlement(
        period=found.period,
        closed_at=found.closed_at,
        kid=found.kid,
        items=[SettlementLine.model_validate(line, from_attributes=True) for line in found.lines],
    )
