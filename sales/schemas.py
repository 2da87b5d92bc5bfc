"""Request and response models of the sales API (requests forbid unknown fields)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

BookingStatus = Literal[
    "PENDING",
    "CONFIRMED",
    "CONDITIONAL_CONFIRMED",
    "REJECTED",
    "EXPIRED",
    "CANCELLED",
    "STARTED",
    "FINISHED",
]
_ID = r"^[A-Za-z0-9:._-]{1,200}$"


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
    valid_from: AwareDatetime | None = Field(
        default=None,
        description="when the ticket starts to be valid, ISO 8601 with an offset; default now",
    )
    fare_media_id: str | None = Field(
        default=None,
        pattern=_ID,
        description="the fare medium to sell it on; default the product's first",
    )


class ItineraryLegRequest(Strict):
    """A transit leg of an itinerary from `/v1/journeys`."""

    operator_id: str = Field(pattern=_ID, description="the operator running the trip")
    route_id: str = Field(pattern=_ID, description="the route, with its operator prefix")
    trip_id: str | None = Field(
        default=None,
        pattern=_ID,
        description="the trip, with its operator prefix (with `service_date`, for seat limits)",
    )
    service_date: date | None = Field(
        default=None, description="the trip's service day (with `trip_id`)"
    )
    from_stop_id: str = Field(pattern=_ID, description="the stop boarded at")
    to_stop_id: str = Field(pattern=_ID, description="the stop alighted at")
    departure: AwareDatetime = Field(
        description="the departure from `from_stop_id`, ISO 8601 with an offset"
    )
    arrival: AwareDatetime = Field(
        description="the arrival at `to_stop_id`, ISO 8601 with an offset"
    )


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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "product": {
                        "operator_id": "kuopion-liikenne",
                        "product_id": "kuopion-liikenne:single",
                    },
                    "travellers": [{"rider_category": "adult"}],
                }
            ]
        },
    )

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

    cancellable: bool
    refundable_until: datetime | None
    refund_fee_minor: int


class OfferLeg(BaseModel):
    """One operator's part of an offer: its product, price for every traveller, validity."""

    position: int
    operator_id: str
    product_id: str | None
    product_name: str | None
    rider_categories: list[str | None]
    price_minor: int
    currency: str
    valid_from: datetime
    valid_until: datetime
    conditions: Conditions
    trip_id: str | None = None
    service_date: date | None = None
    route_id: str | None = None
    from_stop_id: str | None = None
    to_stop_id: str | None = None
    zones: list[str] = []


class Offer(BaseModel):
    """A priced, stored offer; book it by id before `valid_until`."""

    id: UUID
    kind: Literal["product", "itinerary"]
    legs: list[OfferLeg]
    travellers: list[Traveller]
    total_minor: int
    currency: str
    valid_until: datetime


class BookingCreate(Strict):
    """Book offers (all of them or none) for the travellers the offers were made for."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "offer_ids": ["9b2f6c1e-8a4d-4f0e-b6a1-3c5d7e9f1a2b"],
                    "travellers": [{"rider_category": "adult"}],
                }
            ]
        },
    )

    offer_ids: list[UUID] = Field(
        min_length=1,
        max_length=8,
        description="the offers to book, all or none, made for the same travellers",
    )
    travellers: list[Traveller] = Field(
        min_length=1, max_length=9, description="the travellers the offers were made for"
    )
    traveller_ref: str | None = Field(
        default=None,
        max_length=64,
        description="your own reference of the traveller (never a name)",
    )


class Ticket(BaseModel):
    """A signed ticket: show `token` (or its QR code) to the inspector."""

    id: UUID
    operator_id: str
    kid: str
    token: str
    valid_from: datetime
    valid_until: datetime
    status: Literal["VALID", "CANCELLED"]
    qr_png_url: str
    qr_svg_url: str


class BookingLeg(BaseModel):
    """One operator's part of a booking."""

    position: int
    operator_id: str
    status: str
    price_minor: int
    currency: str
    product_id: str | None = None
    valid_from: datetime
    valid_until: datetime
    ticket: Ticket | None = None


class Booking(BaseModel):
    """A booking and its legs, in TOMP-API states."""

    id: UUID
    status: BookingStatus
    offer_ids: list[UUID]
    legs: list[BookingLeg]
    travellers: list[Traveller]
    traveller_ref: str | None = None
    total_minor: int
    refund_minor: int | None = None
    currency: str
    expires_at: datetime
    reason: str | None = None
    created_at: datetime
    updated_at: datetime


class BookingPage(BaseModel):
    """A page of bookings, newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[Booking]
    next_cursor: str | None = None


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

    rider_category_id: str | None
    rider_category_name: str | None
    is_default_rider_category: bool
    fare_media_id: str | None
    fare_media_name: str | None
    price_minor: int
    currency: str


class Product(BaseModel):
    """A product an operator sells, with its prices and conditions."""

    operator_id: str
    product_id: str
    name: str | None
    prices: list[ProductPrice]
    has_origin_destination: bool
    sold_alone: bool
    validity_min: int
    conditions: Conditions
    areas: list[list[str | None]]
    networks: list[str]


class ProductList(BaseModel):
    """A page of the catalogue, by operator and product id."""

    items: list[Product]
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; absent on the last page"
    )
