"""RFC 9457 problem details: every error the gateway answers is one of these."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from flows import errors as flows_errors
from gtfs.feed.validate.issues import FeedInvalid
from journeys.errors import JourneyError
from operators.fares.model import FaresValidationError
from sales import errors as sales
from webhooks import errors as webhook_errors

#: Problem types are pages of the gateway itself (`/problems/{code}`); RFC 9457 asks that a
#: relative type carry the full path, so it resolves against whichever host answered.
PROBLEM_TYPE_BASE = "/problems/"
CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """An error with an HTTP status, a stable machine-readable code and a human detail."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str) -> dict[str, Any]:
        """Return the problem document for the request at `instance`."""
        doc: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "instance": instance,
        }
        if self.detail:
            doc["detail"] = self.detail
        doc.update(self.extra)
        return doc


def problem_response(problem: Problem, instance: str) -> web.Response:
    """Render a problem as an `application/problem+json` response."""
    return web.Response(
        status=problem.status,
        body=orjson.dumps(problem.body(instance)),
        content_type=CONTENT_TYPE,
        headers=problem.headers,
    )


def not_found(what: str, ident: str) -> Problem:
    """Return the 404 problem for a missing (or someone else's) object."""
    return Problem(404, "not_found", "Not found", f"{what} {ident!r} does not exist")


def with_suggestions(problem: Problem, suggestions: list[str]) -> Problem:
    """Add what the client probably meant (`suggestions`, and a "did you mean" in the detail)."""
    if suggestions:
        problem.detail = f"{problem.detail}; did you mean {', '.join(map(repr, suggestions))}?"
        problem.extra["suggestions"] = suggestions
    return problem


def conflict(code: str, detail: str) -> Problem:
    """Return a 409 problem for a state transition that is not allowed."""
    return Problem(409, code, "Conflict", detail)


#: aiohttp's own errors, as problems with stable codes.
HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_failed", "Validation failed"),
    429: ("rate_limited", "Too many requests"),
}


def from_http_exception(exc: web.HTTPException) -> Problem:
    """Translate one of aiohttp's HTTP exceptions into a problem."""
    code, title = HTTP_CODES.get(exc.status, ("http_error", exc.reason))
    detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else None
    headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
    return Problem(exc.status, code, title, detail, headers=headers)


#: The one table from the domains' errors to HTTP statuses (most specific class first).
SALES_STATUSES: dict[type[sales.SalesError], int] = {
    sales.NotFound: 404,
    sales.NoFares: 404,
    sales.NoFare: 422,
    sales.NotASequence: 422,
    sales.ConnectionMissed: 409,
    sales.Departed: 422,
    sales.ValidFromPast: 422,
    sales.TripNotRunning: 422,
    sales.TripCancelled: 422,
    sales.StopsNotOnTrip: 422,
    sales.NotSoldAlone: 422,
    sales.MixedCurrencies: 422,
    sales.InvalidReportPeriod: 422,
    sales.InvalidBooking: 422,
    sales.TravellersMismatch: 422,
    sales.IdempotencyKeyReused: 422,
    sales.OfferExpired: 409,
    sales.OfferAlreadyBooked: 409,
    sales.SoldOut: 409,
    sales.CapacityBelowTaken: 409,
    sales.BookingNotPending: 409,
    sales.BookingExpired: 409,
    sales.BookingNotCancellable: 409,
    sales.NotCancellable: 409,
    sales.IdempotencyKeyInProgress: 409,
    sales.BookingBusy: 409,
    sales.OperatorInvalid: 422,
    sales.OperatorUnavailable: 502,
    sales.NoSigningKey: 503,
    sales.KeyRotationPending: 409,
    sales.OperatorEventRefused: 409,
    sales.PeriodAlreadyClosed: 409,
}
#: Planner errors by code; any other is a request the timetable cannot answer (422).
JOURNEY_STATUSES: dict[str, int] = {"unknown_stop": 404}
#: Exceptions that are domain errors, for the middleware to catch.
DOMAIN_ERRORS = (
    sales.SalesError,
    FaresValidationError,
    FeedInvalid,
    JourneyError,
    flows_errors.FlowsError,
    webhook_errors.WebhookError,
)
#: Each flows error's status and title; OpenAPI lists each operation's codes from here.
FLOWS_PROBLEMS: dict[type[flows_errors.FlowsError], tuple[int, str]] = {
    flows_errors.TravellerNotFound: (404, "Not found"),
    flows_errors.ReleaseNotFound: (404, "Not found"),
    flows_errors.ZoneSystemNotFound: (404, "Unknown zone system"),
    flows_errors.InvalidZones: (422, "Invalid districts"),
    flows_errors.BuiltInZoneSystem: (409, "Built-in zone system"),
    flows_errors.ZoneSystemExists: (409, "Zone system exists"),
    flows_errors.PeriodNotClosed: (409, "Period not closed"),
    flows_errors.PeriodPurged: (410, "Period purged"),
    flows_errors.BudgetExceeded: (409, "Privacy budget exceeded"),
    flows_errors.InconsistentRelease: (409, "Release would reveal suppressed trips"),
    flows_errors.ZoneSystemTooNew: (409, "Zone system newer than the period"),
    flows_errors.ReleaseTooLarge: (422, "Release too large"),
    flows_errors.UnsupportedExport: (422, "Unsupported download"),
}


#: Each webhook error's status and title (their codes are the gateway's own: 404, 400).
WEBHOOK_PROBLEMS: dict[type[webhook_errors.WebhookError], tuple[int, str]] = {
    webhook_errors.WebhookNotFound: (404, "Not found"),
    webhook_errors.UnknownEventCursor: (400, "Invalid cursor"),
}


#: The flows errors' statuses by code (`not_found` is the gateway's own 404 too).
FLOWS_STATUSES: dict[str, int] = {kind.code: st for kind, (st, _) in FLOWS_PROBLEMS.items()}


#: The codes of the problems the gateway raises itself (HTTP, keys, uploads, feeds, the
#: timetable); the domains' codes take their statuses from the tables above.
GATEWAY_STATUSES: dict[str, int] = {
    "bad_request": 400,
    "invalid_json": 400,
    "empty_body": 400,
    "upload_not_a_file": 400,
    "invalid_cursor": 400,
    "idempotency_key_required": 400,
    "idempotency_key_invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "conflict": 409,
    "operator_exists": 409,
    "tenant_exists": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "validation_failed": 422,
    "feed_invalid": 422,
    "invalid_fares": 422,
    "feed_undecodable": 422,
    "feed_version_unsupported": 422,
    "url_not_allowed": 422,
    "rate_limited": 429,
    "internal_error": 500,
    "timetable_loading": 503,
    "too_many_streams": 503,
}
_JOURNEY_KINDS: tuple[type[JourneyError], ...] = (JourneyError, *JourneyError.__subclasses__())
_JOURNEY_CODES = frozenset(kind.code for kind in _JOURNEY_KINDS)


def sales_status(kind: type[sales.SalesError]) -> int:
    """Return the HTTP status of a kind of sales error (its own, or its nearest base's)."""
    for cls in kind.__mro__:
        status = SALES_STATUSES.get(cls)
        if status is not None:
            return status
    return 422


def status_of(error: sales.SalesError) -> int:
    """Return the HTTP status of a sales error (its class's, or the nearest base's)."""
    return sales_status(type(error))


def code_status(code: str) -> int:
    """Return the HTTP status a problem `code` is answered with (KeyError for none)."""
    kind = sales.SalesError.by_code.get(code)
    if kind is not None:
        return sales_status(kind)
    if code in _JOURNEY_CODES:
        return JOURNEY_STATUSES.get(code, 422)
    if code in FLOWS_STATUSES:
        return FLOWS_STATUSES[code]
    return GATEWAY_STATUSES[code]


def domain_problem(exc: Exception) -> Problem:
    """Turn a domain error into the problem the client sees."""
    if isinstance(exc, sales.SalesError):
        headers = {"Idempotent-Replayed": "true"} if exc.replayed else None
        return Problem(
            status_of(exc), exc.code, exc.title, exc.detail, headers=headers, **exc.extra
        )
    if isinstance(exc, FaresValidationError):
        errors = [e.as_dict() for e in exc.errors]
        return Problem(
            422, "invalid_fares", "Invalid fares", str(exc), errors=errors, total=exc.total
        )
    if isinstance(exc, FeedInvalid):
        errors = [e.as_dict() for e in exc.errors]
        return Problem(
            422,
            "feed_invalid",
            "The GTFS feed is not valid",
            str(exc),
            errors=errors,
            total=exc.total,
        )
    if isinstance(exc, flows_errors.FlowsError):
        status, title = FLOWS_PROBLEMS.get(type(exc), (422, "Refused"))
        return Problem(status, exc.code, title, exc.detail)
    if isinstance(exc, webhook_errors.WebhookError):
        status, title = WEBHOOK_PROBLEMS.get(type(exc), (422, "Refused"))
        return Problem(status, exc.code, title, exc.detail)
    if isinstance(exc, JourneyError):
        status = JOURNEY_STATUSES.get(exc.code, 422)
        return Problem(status, exc.code, "No journey can be planned", str(exc))
    raise TypeError(f"not a domain error: {exc!r}")
