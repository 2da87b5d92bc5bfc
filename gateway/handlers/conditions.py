"""Operators' conditions of sale: cancellable, refundable until when, fee, validity, sold alone."""

from __future__ import annotations

from aiohttp import web

from gateway.api import api, require_own_operator
from gateway.appkeys import cache_key, db_key
from sales.conditions import OperatorConditions, get_conditions, replace_conditions


@api.route(
    "GET",
    "/v1/operators/{id}/conditions",
    summary="The operator's conditions of sale",
    tag="operators",
    response=OperatorConditions,
    errors=("not_found",),
)
async def get_operator_conditions(request: web.Request) -> OperatorConditions:
    """Return the conditions an operator has set, for all its products and per product."""
    return await get_conditions(request.app[db_key], request.match_info["id"])


@api.route(
    "PUT",
    "/v1/operators/{id}/conditions",
    summary="Set the operator's conditions of sale",
    tag="operators",
    roles=("operator", "admin"),
    body=OperatorConditions,
    response=OperatorConditions,
    errors=("forbidden", "not_found"),
)
async def put_operator_conditions(
    request: web.Request, body: OperatorConditions
) -> OperatorConditions:
    """Replace the operator's conditions; offers made from now on follow them."""
    operator_id = request.match_info["id"]
    require_own_operator(request, operator_id)
    conditions = await replace_conditions(request.app[db_key], operator_id, body)
    # Other processes hear of it through NOTIFY; this one must not wait for that.
    request.app[cache_key].changed("operator_conditions")
    return conditions
