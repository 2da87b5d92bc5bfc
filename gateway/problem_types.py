"""The page of every problem code: what it means and how to fix the request.

`/problems/{code}` serves these texts; the statuses come from the one table in
`gateway/problems.py`, so a page and an answer never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.problems import code_status
from sales.errors import SalesError


@dataclass(frozen=True)
class ProblemType:
    """What a problem `code` means and how a client fixes its request; `/problems/{code}`."""

    status: int
    title: str
    meaning: str
    fix: str


def _t(title: str, meaning: str, fix: str) -> tuple[str, str, str]:
    return title, meaning, fix


#: Every problem code's page: its title, what it means, how to fix the request.
_TEXTS: dict[str, tuple[str, str, str]] = {
    "bad_request": _t(
        "Bad request",
        "The request could not be read as HTTP.",
        "Check the request line, headers and encoding.",
    ),
    "invalid_json": _t(
        "Invalid JSON",
        "The body is not valid JSON.",
        "Send a JSON document; the detail names where parsing stopped.",
    ),
    "empty_body": _t(
        "Empty body",
        "The upload carried no bytes.",
        "Send the file as the request body, e.g. `curl --data-binary @feed.zip`.",
    ),
    "upload_not_a_file": _t(
        "The upload carries no file",
        (
            "The body is a form, not a file: a multipart form without a file part, or a"
            " url-encoded form (`curl -d`, which also drops the zip's newlines)."
        ),
        (
            "Send the zip itself as the body (`curl -T feed.zip URL`, or"
            " `--data-binary @feed.zip`), or as the file part of a multipart form"
            " (`curl -F file=@feed.zip URL`)."
        ),
    ),
    "invalid_cursor": _t(
        "Invalid cursor",
        "`cursor` is not one this API gave.",
        (
            "Pass the `next_cursor` of the previous page unchanged, or leave `cursor` out for the "
            "first page."
        ),
    ),
    "idempotency_key_required": _t(
        "Idempotency-Key required",
        "This request moves money and must carry an `Idempotency-Key` header.",
        (
            "Send a fresh random key (a UUID) per booking attempt; repeat it only to retry the same"
            " request."
        ),
    ),
    "idempotency_key_invalid": _t(
        "Invalid Idempotency-Key",
        (
            "The `Idempotency-Key` header is empty, too long or has characters outside printable "
            "ASCII."
        ),
        "Use a UUID or another token of 1 to 255 printable ASCII characters.",
    ),
    "unauthorized": _t(
        "Unauthorized",
        "No API key was sent, or the key sent is unknown, revoked or malformed.",
        (
            "Send `Authorization: Bearer mk_<role>_<prefix>_<secret>` with a key the gateway's "
            "admin issued."
        ),
    ),
    "forbidden": _t(
        "Forbidden",
        "The key is valid but its role (or its operator) may not do this.",
        (
            "Use a key of the role the operation lists (`x-roles` in the OpenAPI document); an "
            "operator key acts only on its own operator."
        ),
    ),
    "not_found": _t(
        "Not found",
        "The object named in the path or body does not exist, or belongs to another tenant.",
        (
            "Check the id (ids are prefixed with the operator id, e.g. `kuopion-liikenne:201804`); "
            "list the collection to find it."
        ),
    ),
    "no_fares": _t(
        "No fares",
        "The operator has published no fares, so nothing of it can be priced.",
        (
            "Ask the operator to publish Fares v2 files (`PUT /v1/operators/{id}/fares`), or choose"
            " another operator's product."
        ),
    ),
    "unknown_stop": _t(
        "Unknown stop",
        "`from` or `to` names a stop id the timetable does not hold.",
        "Give a stop id from `/v1/stops` (with its operator prefix) or a position as `lat,lon`.",
    ),
    "method_not_allowed": _t(
        "Method not allowed",
        "The path exists but not with this method.",
        "Use one of the methods in the `Allow` header.",
    ),
    "not_acceptable": _t(
        "Not acceptable",
        "The gateway cannot answer in a media type the `Accept` header allows.",
        "Accept `application/json` (or the media type the operation documents).",
    ),
    "conflict": _t(
        "Conflict",
        "The request conflicts with the current state of the resource.",
        "Read the resource again and retry with a request that fits its state.",
    ),
    "operator_exists": _t(
        "Operator exists",
        "An operator with this id is already onboarded.",
        "Choose another id, or update the existing operator.",
    ),
    "tenant_exists": _t(
        "Tenant exists",
        "A tenant of that name already exists, and the key did not ask to join it.",
        "Pass its `tenant_id` to add a key to the existing tenant, or choose another name.",
    ),
    "sold_out": _t(
        "Sold out",
        "Not enough seats are left on the product or departure for the travellers asked.",
        "Ask for fewer travellers or choose another departure; new offers show what is left.",
    ),
    "offer_expired": _t(
        "Offer expired",
        "An offer in the booking is past its `expires_at`.",
        "Get a new offer (`POST /v1/offers` or `/v1/journeys` with a maas key) and book that.",
    ),
    "offer_already_booked": _t(
        "Offer already booked",
        "An offer can be booked once; this one is in another booking.",
        "Get a new offer, or retry the first booking with its own `Idempotency-Key` to replay it.",
    ),
    "booking_not_pending": _t(
        "Booking not pending",
        "Only a PENDING booking can be confirmed.",
        (
            "Read the booking: a CONFIRMED one already has its tickets; a REJECTED or EXPIRED one "
            "needs a new booking."
        ),
    ),
    "booking_expired": _t(
        "Booking expired",
        "The booking's hold ended before it was confirmed; its seats are released.",
        "Book again with new offers and confirm before `expires_at`.",
    ),
    "booking_busy": _t(
        "Booking busy",
        (
            "The booking's operators are being called (it is CONFIRMING or CANCELLING), or "
            "they confirmed and its tickets are not issued yet; a second call would ask them twice."
        ),
        "Read the booking in a moment (`GET /v1/bookings/{id}`); the gateway finishes it.",
    ),
    "operator_invalid": _t(
        "Operator invalid",
        "An operator's onboarding details cannot work: a `tomp` operator with no `tomp_url`.",
        "Give `tomp_url` (and its token) for `sales_channel: tomp`, or none for `hosted`.",
    ),
    "booking_not_cancellable": _t(
        "Booking not cancellable",
        (
            "The booking is in a state, or past the time, in which its conditions allow no "
            "cancellation."
        ),
        "Read the booking's state and its offers' conditions.",
    ),
    "capacity_below_taken": _t(
        "Capacity below seats taken",
        "More seats are already sold or held than the capacity asked for.",
        "Set a capacity at least as large as the seats taken, shown in the detail.",
    ),
    "idempotency_key_in_progress": _t(
        "Request in progress",
        "A request with this `Idempotency-Key` is still being processed.",
        "Wait a moment and retry with the same key and body: the first answer is then replayed.",
    ),
    "payload_too_large": _t(
        "Payload too large",
        "The body is larger than the gateway accepts for this operation.",
        (
            "Send a smaller body; JSON bodies are limited by `MAAS_MAX_BODY_BYTES`, uploads by "
            "`MAAS_MAX_UPLOAD_BYTES`."
        ),
    ),
    "unsupported_media_type": _t(
        "Unsupported media type",
        "The body's `Content-Type` is not the one the operation reads.",
        (
            "Send JSON bodies with `Content-Type: application/json` and uploads with the media type"
            " the operation documents."
        ),
    ),
    "validation_failed": _t(
        "Validation failed",
        (
            "A field of the query or body is missing, unknown or out of range; `errors` lists each "
            "as `body.x[0].y` or `query.z`."
        ),
        "Correct each field named in `errors`; request bodies refuse unknown fields.",
    ),
    "idempotency_key_reused": _t(
        "Idempotency-Key reused",
        "This `Idempotency-Key` was used before with another body.",
        "Use a fresh key for a new request; reuse a key only to retry the same request.",
    ),
    "feed_invalid": _t(
        "The GTFS feed is not valid",
        (
            "The uploaded GTFS zip has errors; `errors` lists them per file and row. The previous "
            "feed stays in force."
        ),
        "Fix the rows named and upload again.",
    ),
    "invalid_fares": _t(
        "Invalid fares",
        "The Fares v2 files are not valid or do not match the operator's feed.",
        "Fix the files and rows named in the detail and upload again.",
    ),
    "feed_undecodable": _t(
        "Not a usable GTFS-Realtime feed",
        "The body is not a GTFS-Realtime FeedMessage; the previous feed stays in force.",
        "Send the protobuf bytes of a FeedMessage (`Content-Type: application/x-protobuf`).",
    ),
    "feed_version_unsupported": _t(
        "Unsupported GTFS-Realtime version",
        "The FeedMessage's `gtfs_realtime_version` is not one the gateway reads.",
        "Publish GTFS-Realtime 2.0 (or 1.0).",
    ),
    "url_not_allowed": _t(
        "URL not allowed",
        "The URL is not https or names a host that is not public.",
        "Give a public `https://` URL the gateway may poll.",
    ),
    "departed": _t(
        "Departed",
        "The offer asks for a departure that has already left.",
        "Plan again from now, or choose a later departure.",
    ),
    "no_fare": _t(
        "No fare",
        "The operator's fares price none of the products for this leg or rider category.",
        "Choose another rider category or product; `/v1/products` lists what is sold.",
    ),
    "trip_not_running": _t(
        "The trip does not run that day",
        "An itinerary leg names a trip that does not run on its `service_date`.",
        "Send the `trip_id` and `service_date` of a journey's transit leg from `/v1/journeys`.",
    ),
    "trip_cancelled": _t(
        "The trip is cancelled",
        "Realtime data says this run of the trip is cancelled.",
        "Plan again: `/v1/journeys` leaves cancelled runs out.",
    ),
    "stops_not_on_trip": _t(
        "The trip does not serve these stops",
        "The trip does not take on passengers at `from_stop_id` and set them down later at "
        "`to_stop_id` (a stop it skips, or the stops in the wrong order).",
        "Send the stops of a journey's transit leg, boarding stop first.",
    ),
    "not_sold_alone": _t(
        "Not sold on its own",
        "The product is not for sale alone: no fare leg rule prices it and its operator does "
        "not sell it alone (a transfer discount), or it costs zero or less.",
        "Choose a product that `/v1/products` lists, or buy a journey with `POST /v1/offers`.",
    ),
    "not_cancellable": _t(
        "Not cancellable",
        "The operator's conditions for a leg of this booking do not allow cancelling it.",
        "Read the legs' `conditions` before buying; the booking stays as it is.",
    ),
    "itinerary_not_a_sequence": _t(
        "Legs out of sequence",
        "An itinerary's legs are not one traveller's sequence in time: the same leg twice, or "
        "a leg that leaves before the previous one arrives. The detail names the leg.",
        "Send the legs in travel order, each boarding at or after the previous one's arrival.",
    ),
    "connection_missed": _t(
        "Connection missed",
        "A delay or an earlier time reported by realtime makes a leg of the itinerary arrive "
        "after the next leg leaves, so the journey as searched no longer works. The detail "
        "names the leg and both times.",
        "Search journeys again (`GET /v1/journeys` already plans with realtime) and offer "
        "one of the new ones.",
    ),
    "valid_from_past": _t(
        "Validity in the past",
        "`valid_from` is before now.",
        "Leave `valid_from` out (now) or give a time in the future, with an offset.",
    ),
    "invalid_report_period": _t(
        "Invalid report period",
        (
            "A sales summary's `to` is before its `from`, or the period is longer than 366 "
            "days; or a settlement period is not a month `YYYY-MM`, or has not begun."
        ),
        "Give `from` and `to` as dates, `from` first, at most 366 days apart; or a past month.",
    ),
    "operator_event_refused": _t(
        "Event not applicable",
        (
            "An operator's COMMIT or DENY names a leg that is not CONDITIONAL_CONFIRMED, or its "
            "CANCEL a leg of a booking that is not CONFIRMED."
        ),
        "Read the leg (`GET /v1/operators/{id}/bookings`); send an event its state allows.",
    ),
    "period_already_closed": _t(
        "Period already closed",
        "The settlement period was closed before; a closed statement never changes.",
        "Read it with `GET /v1/settlements?period=`; later refunds count in the next period.",
    ),
    "mixed_currencies": _t(
        "Mixed currencies",
        "The offers or legs are priced in different currencies and cannot be summed.",
        "Book the offers of each currency separately.",
    ),
    "travellers_mismatch": _t(
        "Travellers mismatch",
        "The offers in one booking are for different travellers.",
        "Book offers made for the same travellers together.",
    ),
    "outside_network": _t(
        "Outside the network",
        "No stop lies within walking distance of the `lat,lon` given.",
        "Give a position nearer a stop, or a stop id from `/v1/stops`.",
    ),
    "date_outside_service": _t(
        "Date outside the timetable",
        "The time asked is outside the period the timetable covers (the detail gives it).",
        "Ask for a time within the service period shown by `/v1/network.geojson`'s `service`.",
    ),
    "invalid_query": _t(
        "Invalid journey query",
        "The journey query cannot be planned as given (for example `depart_at` with `arrive_by`).",
        "Give one of `depart_at` or `arrive_by`, and `from` differing from `to`.",
    ),
    "journey_error": _t(
        "No journey can be planned",
        "The planner could not plan this query.",
        "Read the detail; try other places or times.",
    ),
    "rate_limited": _t(
        "Too many requests",
        "The key or client address made more requests in the window than allowed.",
        "Wait the seconds in `Retry-After`, then retry.",
    ),
    "internal_error": _t(
        "Internal error",
        "The gateway failed; the error is logged with the request id.",
        "Retry later; report the `X-Request-Id` to the gateway's operator if it persists.",
    ),
    "operator_unavailable": _t(
        "Operator unavailable",
        "An operator's back-end did not answer or answered with an error.",
        (
            "Retry later. Read the booking: a cancellation that is CANCELLING is finished by "
            "the gateway, which keeps asking the operator with the same idempotency key."
        ),
    ),
    "no_signing_key": _t(
        "No signing key",
        "The operator has no key to sign its tickets: it was not onboarded through the gateway.",
        (
            "Retry after the gateway's operator has restarted the gateway (start-up gives every"
            " operator a key) or onboarded the operator again."
        ),
    ),
    "key_rotation_pending": _t(
        "Key rotation pending",
        "The key the last rotation announced has not started signing yet.",
        "Rotate again after the time the detail names (the announced key's `signs_from`).",
    ),
    "timetable_loading": _t(
        "Timetable loading",
        "The gateway is still building its timetable (at start-up or after a feed upload).",
        "Retry after the seconds in `Retry-After`; `/ready` says `ok` once it is built.",
    ),
    "too_many_streams": _t(
        "Too many streams",
        "The gateway serves as many Server-Sent Event streams as it allows.",
        "Retry later, or poll `/v1/vehicles` instead.",
    ),
    "unknown_zone_system": _t(
        "Unknown zone system",
        "No zone system has that id.",
        "Use one of `GET /v1/flows/zone-systems`: fare-zones, h3-7, h3-8 or uploaded districts.",
    ),
    "invalid_zones": _t(
        "Invalid districts",
        "The upload is not a GeoJSON FeatureCollection of valid (Multi)Polygons with unique ids.",
        "Give every feature an `id` (not starting with `_`) and a Polygon or MultiPolygon.",
    ),
    "built_in_zone_system": _t(
        "Built-in zone system",
        "fare-zones, h3-7 and h3-8 are built in and cannot be uploaded.",
        "Upload districts under an id of your own.",
    ),
    "zone_system_exists": _t(
        "Zone system exists",
        "Districts of that id were uploaded already; they never change once trips carry them.",
        "Upload changed districts under a new id.",
    ),
    "period_not_closed": _t(
        "Period not closed",
        "Trips of the month may still be recorded, so it cannot be released yet.",
        "Release it once it has ended plus `MAAS_FLOWS_CLOSE_AFTER_H`; the detail says when.",
    ),
    "period_purged": _t(
        "Period purged",
        "The month's raw trip records were deleted after the retention time.",
        "Use the month's earlier releases (`GET /v1/flows/releases?period=`).",
    ),
    "budget_exceeded": _t(
        "Privacy budget exceeded",
        "The release would spend more epsilon than the month has left.",
        "Ask for a smaller `epsilon` or none; `GET /v1/flows/ledger` shows what is left.",
    ),
    "inconsistent_release": _t(
        "Release would reveal suppressed trips",
        "Some cells would hold between 1 and k-1 travellers of the trips the month's earlier "
        "releases published: the difference with them would reveal those trips.",
        "Release a coarser view (a coarser bucket or zone system, no breakdown), or release the "
        "finest view first in a month.",
    ),
    "zone_system_too_new": _t(
        "Zone system newer than the period",
        "The districts were uploaded after the month began: its trips carry no district.",
        "Release the month on fare zones or H3 cells; districts apply from the next month.",
    ),
    "release_too_large": _t(
        "Release too large",
        "Zones x zones x buckets x breakdown is more cells than `MAAS_FLOWS_MAX_CELLS`.",
        "Choose a coarser zone system or bucket, or no breakdown.",
    ),
    "unsupported_export": _t(
        "Unsupported download",
        "The download cannot be made of this release: a Visum matrix is one bucket (and mode and "
        "operator when the release breaks them down).",
        "Pass `bucket=` (and `mode=`, `operator=`) with `format=visum`.",
    ),
}


def _problem_type(code: str, title: str, meaning: str, fix: str) -> ProblemType:
    """Take the status from `gateway.problems`, and a sales error's title from its class."""
    kind = SalesError.by_code.get(code)
    return ProblemType(code_status(code), kind.title if kind else title, meaning, fix)


#: Every problem code the gateway answers with, and its page.
PROBLEM_TYPES: dict[str, ProblemType] = {
    code: _problem_type(code, *texts) for code, texts in _TEXTS.items()
}

#: Codes every operation can answer with, whatever it does.
COMMON_CODES = ("rate_limited", "internal_error")
