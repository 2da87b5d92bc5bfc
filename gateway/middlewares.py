"""The request pipeline: request id, metrics, problem+json errors, authentication, rate limits."""

from __future__ import annotations

import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway import credentials, ratelimit
from gateway.api import PRINCIPAL
from gateway.appkeys import cache_key, db_key, metrics_key
from gateway.logs import request_id_var
from gateway.problems import (
    DOMAIN_ERRORS,
    Problem,
    domain_problem,
    from_http_exception,
    problem_response,
)

log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Echo a well-formed `X-Request-Id` or make one, and tag every log line with it."""
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    token = request_id_var.set(request_id)
    try:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers["X-Request-Id"] = request_id
            raise
        response.headers["X-Request-Id"] = request_id
        return response
    finally:
        request_id_var.reset(token)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count requests and time them by route template and status."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        status = exc.status
        raise
    else:
        status = response.status
        return response
    finally:
        route = request.match_info.route.resource
        template = route.canonical if route is not None else "unmatched"
        request.app[metrics_key].observe(
            request.method, template, status, time.perf_counter() - started
        )


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error as application/problem+json; a crash never leaks internals."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem_response(problem, request.path)
    except DOMAIN_ERRORS as error:
        return problem_response(domain_problem(error), request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(from_http_exception(exc), request.path)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        internal = Problem(
            500,
            "internal_error",
            "Internal server error",
            "the gateway failed; quote the X-Request-Id when reporting it",
        )
        return problem_response(internal, request.path)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve `Authorization: Bearer <key>`; a key sent to an open route must be valid too."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise _unauthorized("use the header `Authorization: Bearer <api key>`")
        found = await credentials.authenticate(
            request.app[db_key], key.strip(), request.app.get(cache_key)
        )
        if found is None:
            # Counted against the client's address, or guessing keys would be unlimited.
            verdict = await ratelimit.check(request)
            if verdict is not None and not verdict.allowed:
                raise _too_many(verdict)
            raise _unauthorized("the API key is unknown or revoked")
        request[PRINCIPAL] = found
    return await handler(request)


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"}
    )


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse with 429 and `Retry-After` once a key (or an anonymous client) uses up its window."""
    verdict = await ratelimit.check(request)
    if verdict is not None and not verdict.allowed:
        raise _too_many(verdict)
    response = await handler(request)
    if verdict is not None:
        response.headers["X-RateLimit-Limit"] = str(verdict.limit)
        response.headers["X-RateLimit-Remaining"] = str(verdict.remaining)
    return response


def _too_many(verdict: ratelimit.Verdict) -> Problem:
    return Problem(
        429,
        "rate_limited",
        "Too many requests",
        f"limit of {verdict.limit} requests per {verdict.window_s} s reached; "
        f"retry in {verdict.retry_after_s} s",
        headers={"Retry-After": str(verdict.retry_after_s)},
    )


MIDDLEWARES = (
    request_id_middleware,
    metrics_middleware,
    problem_middleware,
    auth_middleware,
    rate_limit_middleware,
)
