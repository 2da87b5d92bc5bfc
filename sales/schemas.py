"""Request and response models of the sales API (requests forbid unknown fields)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

#: TOMP-API's booking states, and the gateway's two intents (`CONFIRMING`, `CANCELLING`):
#: the operators are being called and the outcome is not yet recorded.
BookingStatus = Literal[
    "PENDING",
    "CONFIRMING",
    "CONFIRMED",
    "CONDITIONAL_CONFIRMED",
    "REJECTED",
    "EXPIRED",
    "CANCELLING",
    "CANCELLED",
    "STARTED",
    "FINISHED",
]
_ID = r"^[A-Za-z0-9:._-]{1,200}$"
#: The app's opaque reference for a traveller (never a name, phone or email), alike wherever
#: it is given (a booking's `traveller_ref`, `/v1/travellers/{ref}`), so that every reference
#: a booking holds can be reached by the traveller's export and erasure.
TRAVELLER_REF_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"

#: The days a request may name: every timetable's, with room either side, and far from
#: the ends of Python's calendar (years 1 and 9999), where a day or an offset more overflows.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2199, 12, 31)
_Day = TypeVar("_Day", date, datetime)


def within_years(value: _Day) -> _Day:
    """Refuse a date or time outside FIRST_DAY..LAST_DAY (in its own offset)."""
    day = value.date() if isinstance(value, datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}, not {value.isoformat()}")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def not_a_number(value: object) -> object:
    """Refuse a number where a date or time is due.

    pydantic reads a number, or a string of one, as seconds since 1970: `at=0.5` or
    `"valid_from": 0` is no time anyone meant, and 1970-01-01 is inside FIRST_DAY..LAST_DAY.
    """
    if isinstance(value, bool | int | float) or (isinstance(value, str) and _is_number(value)):
        raise ValueError("give it in ISO 8601 (e.g. 2017-01-16T08:00:00+02:00), not a number")
    return value


#: A moment a request names: ISO 8601 with an offset, between FIRST_DAY and LAST_DAY.
Moment = Annotated[AwareDatetime, BeforeValidator(not_a_number), AfterValidator(within_years)]
#: A day a request names (a service date, a day of a report), between FIRST_DAY and LAST_DAY.
Day = Annotated[date, BeforeValidator(not_a_number), AfterValidator(within_years)]


class Strict(BaseModel):
    """A request model: unknown fields are refused, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Traveller(Strict):
    """One traveller: a rider category (the operator's id, e.g. `adult`; default when absent)."""

    rider_category: str | None = Field(
        default=None,
        pattern=_ID,
        description=(
            "the rider category to price for (`rider_category_id` of the operator's"
            " fares); default its default category"
        ),
    )
    ref: str | None = Field(default=None, max_length=64, description="your reference, not a name")


class ProductOfferRequest(Strict):
    """An offer for a product sold on its own (a single or a day ticket)."""

    operator_id: str = Field(pattern=_ID, description="the operator selling the product")
    product_id: str = Field(
        pattern=_ID, description="its `fare_product_id`, as `/v1/products` lists it"
    )
    valid_from: Moment | None = Field(
        default=None,
        description="when the ticket starts to be valid, ISO 8601 with an offset; default now",
    )
    fare_media_id: str | None = Field(
        default=None,
        pattern=_ID,
        description="the fare medium to sell it on; default the product's first",
    )


class ItineraryLegRequest(Strict):
    """A ride on a trip, as `/v1/journeys` gives it; its times come from the timetable."""

    trip_id: str = Field(
        pattern=_ID, description="the trip, with its operator prefix, as in a journey's leg"
    )
    service_date: Day = Field(
        description="the trip's service date (the day before for a run past midnight)"
    )
    from_stop_id: str = Field(pattern=_ID, description="where the traveller boards")
    to_stop_id: str = Field(pattern=_ID, description="where the traveller alights, later")


class ItineraryOfferRequest(Strict):
    """An offer for every transit leg of an itinerary, priced with each operator's fares."""

    legs: list[ItineraryLegRequest] = Field(
        min_length=1,
        max_length=8,
        description="the transit legs of a journey, in order, as `/v1/journeys` returns them",
    )
    fare_media_id: str | None = Field(
        default=None,
        pattern=_ID,
        description="the fare medium to sell on; default each product's first",
    )


class OfferCreate(Strict):
    """Ask for an offer: either a product or an itinerary, for one to nine travellers."""

    product: ProductOfferRequest | None = Field(
        default=None, description="price one product (give this or `itinerary`)"
    )
    itinerary: ItineraryOfferRequest | None = Field(
        default=None, description="price a journey's legs (give this or `product`)"
    )
    travellers: list[Traveller] = Field(
        min_length=1, max_length=9, description="who travels: one entry per traveller"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> OfferCreate:
        if (self.product is None) == (self.itinerary is None):
            raise ValueError("give exactly one of `product` or `itinerary`")
        return self


class Conditions(BaseModel):
    """What the buyer may undo, until when and at what fee."""

    cancellable: bool = Field(description="whether the booking may be cancelled")
    refundable_until: datetime | None = Field(
        description="until when a cancellation is refunded (none: never)"
    )
    refund_fee_minor: int = Field(
        description="what a refunded cancellation costs, in minor units of the offer's currency"
    )


class Refund(BaseModel):
    """What a cancel gave back, and why (the conditions it followed)."""

    amount_minor: int = Field(description="the money given back, in minor units")
    currency: str = Field(description="ISO 4217 currency of `amount_minor`")
    reason: str = Field(description="why the refund is what it is, from the conditions")


class OfferLeg(BaseModel):
    """One operator's part of an offer: its product, price for every traveller, validity."""

    position: int = Field(description="the leg's place in the offer, from 0")
    operator_id: str = Field(description="the operator selling this leg")
    product_id: str | None = Field(description="the fare product sold (`fare_product_id`)")
    product_name: str | None = Field(description="its name for people")
    rider_categories: list[str | None] = Field(
        description="the rider category each traveller is priced as, in the order of `travellers`"
    )
    price_minor: int = Field(
        description="the leg's price for every traveller, in minor units (cents)"
    )
    currency: str = Field(description="ISO 4217 currency of `price_minor`")
    valid_from: datetime = Field(description="when the ticket starts to be valid")
    valid_until: datetime = Field(description="when it stops being valid")
    conditions: Conditions = Field(description="what may be undone, until when and at what fee")
    trip_id: str | None = Field(default=None, description="the trip ridden (itinerary offers)")
    service_date: date | None = Field(default=None, description="the trip's service day")
    route_id: str | None = Field(default=None, description="the trip's route")
    from_stop_id: str | None = Field(default=None, description="where the leg boards")
    to_stop_id: str | None = Field(default=None, description="where it alights")
    zones: list[str] = Field(default=[], description="the fare areas the leg's stops are in")


class Quote(BaseModel):
    """A price computed from the operators' fares and the timetable; nothing is stored."""

    kind: Literal["product", "itinerary"] = Field(
        description="`product` (one product) or `itinerary` (a journey's legs)"
    )
    legs: list[OfferLeg] = Field(description="one entry per operator's part")
    travellers: list[Traveller] = Field(description="the travellers it is priced for")
    total_minor: int = Field(
        description="the price of every leg for every traveller, in minor units (cents)"
    )
    currency: str = Field(description="ISO 4217 currency of `total_minor`")


class Offer(Quote):
    """A priced, stored offer; book it by id before `valid_until`."""

    id: UUID = Field(description="the offer's id: book it with `POST /v1/bookings`")
    valid_until: datetime = Field(description="book before this, or ask for a new offer")


class BookingCreate(Strict):
    """Book offers (all of them or none) for the travellers the offers were made for."""

    offer_ids: list[UUID] = Field(
        min_length=1,
        max_length=8,
        description="the offers to book, all or none, made for the same travellers",
    )
    travellers: list[Traveller] | None = Field(
        default=None,
        min_length=1,
        max_length=9,
        description="optional: the offers' travellers are taken; if sent, they must match",
    )
    traveller_ref: str | None = Field(
        default=None,
        pattern=TRAVELLER_REF_PATTERN,
        description="your own reference of the traveller (never a name): 1 to 64 of "
        "A-Z a-z 0-9 . _ : -, as in /v1/travellers/{ref}",
    )


class Ticket(BaseModel):
    """A signed ticket: show `token` (or its QR code) to the inspector."""

    id: UUID = Field(description="the ticket's id")
    operator_id: str = Field(description="the operator that signed it")
    kid: str = Field(description="the id of its signing key in `/.well-known/jwks.json`")
    token: str = Field(
        description=(
            "the signed ticket (a compact JWS, EdDSA): what the inspector verifies offline"
        )
    )
    valid_from: datetime = Field(description="when it starts to be valid")
    valid_until: datetime = Field(description="when it stops being valid")
    status: Literal["VALID", "CANCELLED"] = Field(
        description="`VALID`, or `CANCELLED` once the booking is"
    )
    qr_png_url: str = Field(description="its QR code as PNG (a maas key of its tenant)")
    qr_svg_url: str = Field(description="its QR code as SVG")


class BookingLeg(BaseModel):
    """One operator's part of a booking."""

    position: int = Field(description="the leg's place in the booking, from 0")
    operator_id: str = Field(description="the operator of this leg")
    status: str = Field(description="the leg's own state at its operator")
    price_minor: int = Field(description="its price, in minor units")
    currency: str = Field(description="ISO 4217 currency of `price_minor`")
    product_id: str | None = Field(default=None, description="the fare product sold")
    valid_from: datetime = Field(description="when its ticket starts to be valid")
    valid_until: datetime = Field(description="when it stops being valid")
    ticket: Ticket | None = Field(
        default=None, description="its ticket, once the booking is confirmed"
    )


class Booking(BaseModel):
    """A booking and its legs, in TOMP-API states."""

    id: UUID = Field(description="the booking's id")
    status: BookingStatus = Field(
        description=(
            "its TOMP-API state: `PENDING` until confirmed or `expires_at`, then "
            "`CONFIRMED`, `REJECTED`, `EXPIRED` or `CANCELLED`"
        )
    )
    offer_ids: list[UUID] = Field(description="the offers booked")
    legs: list[BookingLeg] = Field(
        description="one per operator's part, each with its ticket once confirmed"
    )
    travellers: list[Traveller] = Field(description="the travellers booked for")
    traveller_ref: str | None = Field(default=None, description="your reference of the traveller")
    total_minor: int = Field(description="the price of the whole booking, in minor units")
    refund_minor: int | None = Field(
        default=None, description="what a cancellation refunded, in minor units"
    )
    refund: Refund | None = Field(default=None, description="what a cancellation refunded, and why")
    currency: str = Field(description="ISO 4217 currency of the amounts")
    expires_at: datetime = Field(
        description="a `PENDING` booking not confirmed by then expires and releases its seats"
    )
    reason: str | None = Field(default=None, description="why it was rejected, when it was")
    created_at: datetime = Field(description="when it was made")
    updated_at: datetime = Field(description="when its state last changed")


class BookingPage(BaseModel):
    """A page of bookings, newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[Booking] = Field(description="the bookings, newest first")
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; absent on the last"
    )


class BookingQuery(Strict):
    """Filters of the booking list."""

    status: BookingStatus | None = Field(default=None, description="only bookings in this state")
    cursor: str | None = Field(
        default=None,
        max_length=200,
        description="the `next_cursor` of the previous page; leave out for the first page",
    )
    limit: int = Field(default=50, ge=1, le=200, description="how many bookings per page")


class ProductQuery(Strict):
    """Filters and paging of the catalogue."""

    operator: str | None = Field(default=None, pattern=_ID, description="one operator's products")
    limit: int = Field(
        default=50, ge=1, le=500, description="products per page, by operator and product id"
    )
    cursor: str | None = Field(
        default=None, description="the `next_cursor` of the previous page (opaque)"
    )


class ProductPrice(BaseModel):
    """A product's price for one rider category and fare media."""

    rider_category_id: str | None = Field(
        description="the rider category this price is for (none: everyone)"
    )
    rider_category_name: str | None = Field(description="its name for people")
    is_default_rider_category: bool = Field(
        description="whether it is the category used when none is asked"
    )
    fare_media_id: str | None = Field(description="the fare medium this price is for")
    fare_media_name: str | None = Field(description="its name for people")
    price_minor: int = Field(description="the price, in minor units (cents)")
    currency: str = Field(description="ISO 4217 currency of `price_minor`")


class Product(BaseModel):
    """A product an operator sells, with its prices and conditions."""

    operator_id: str = Field(description="the operator selling it")
    product_id: str = Field(description="its `fare_product_id`: offer it with `POST /v1/offers`")
    name: str | None = Field(description="its name for people")
    prices: list[ProductPrice] = Field(description="its price per rider category and fare medium")
    has_origin_destination: bool = Field(
        description=(
            "false for a product valid without an origin or destination (a day ticket, a flat fare)"
        )
    )
    sold_alone: bool = Field(
        description="whether it can be bought on its own rather than only as a leg of a journey"
    )
    validity_min: int = Field(description="how long a ticket stays valid, in minutes")
    conditions: Conditions = Field(description="what may be undone, until when and at what fee")
    areas: list[list[str | None]] = Field(
        description="the (from area, to area) pairs it is valid between; none for any area"
    )
    networks: list[str] = Field(description="the route networks it is valid on")


class ProductList(BaseModel):
    """A page of the catalogue, by operator and product id."""

    items: list[Product] = Field(
        description="the products of this page, by operator and product id"
    )
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; absent on the last page"
    )
