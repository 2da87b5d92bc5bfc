"""Request and response models of the trip-flows API (requests refuse unknown fields)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from flows.grid import Bucket, Dimension
from sales.schemas import TRAVELLER_REF_PATTERN, Strict

#: A month of the years 1000-9998: the month after it must still be a date PostgreSQL and
#: Python both hold, so 9999-12 (whose end is year 10000) is no period.
PERIOD_PATTERN = r"^([1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-(0[1-9]|1[0-2])$"
#: The path's traveller reference is the booking's `traveller_ref`: one pattern for both.
REF_PATTERN = TRAVELLER_REF_PATTERN


class ConsentReceipt(BaseModel):
    """A consent receipt with the fields of the Kantara Consent Receipt specification 1.1."""

    version: str = Field(description="receipt specification version", examples=["KI-CR-v1.1.0"])
    jurisdiction: str = Field(description="jurisdiction of the controller", examples=["FI"])
    consentTimestamp: int = Field(description="when, as Unix seconds")
    collectionMethod: str = Field(description="how the consent was collected")
    consentReceiptID: UUID = Field(description="this receipt's id")
    language: str = Field(description="language of the receipt")
    piiPrincipalId: str = Field(description="the app's opaque reference for the traveller")
    piiControllers: list[dict[str, Any]] = Field(description="the data controller(s)")
    policyUrl: str = Field(description="the privacy policy")
    services: list[dict[str, Any]] = Field(description="services and their purposes")
    sensitive: bool = Field(description="whether sensitive personal data is involved")
    spiCat: list[str] = Field(description="categories of sensitive data (none)")
    action: Literal["grant", "withdraw", "erase"] = Field(description="what was recorded")
    legalBasis: str = Field(description="legal basis of the processing")
    app: str = Field(description="the MaaS app (tenant) that recorded it")
    issuedAt: datetime = Field(description="when, as ISO 8601")


class Consent(BaseModel):
    """A purpose the traveller consents to now."""

    purpose: str = Field(description="the purpose", examples=["trip-statistics"])
    granted_at: datetime = Field(description="when it was granted")
    receipt_id: UUID = Field(description="the receipt of the grant")
    legal_basis: str = Field(description="legal basis of keeping it")


class ReceiptEntry(BaseModel):
    """One entry of the append-only consent audit log."""

    action: str = Field(description="grant, withdraw or erase")
    purpose: str | None = Field(description="the purpose (none for an erasure)")
    receipt: dict[str, Any] = Field(description="the receipt as handed out")
    created_at: datetime = Field(description="when it was appended")
    legal_basis: str = Field(description="legal basis of keeping it")


class TripRecordOut(BaseModel):
    """A trip record not yet deleted: zones and buckets only."""

    period: str = Field(description="the month it belongs to")
    origin_fare: str = Field(description="fare zone of the first boarding stop")
    destination_fare: str = Field(description="fare zone of the last alighting stop")
    origin_h3: str = Field(description="H3 cell (resolution 8) of the first boarding stop")
    destination_h3: str = Field(description="H3 cell (resolution 8) of the last alighting stop")
    districts: dict[str, list[str]] = Field(
        description="origin and destination per district system"
    )
    service_date: date = Field(description="local date of the departure")
    hour: int = Field(description="local hour of the departure")
    modes: list[str] = Field(description="modes travelled")
    operators: list[str] = Field(description="operators travelled with")
    legs: int = Field(description="number of legs")
    synthetic: bool = Field(description="made by the demo, not travelled")
    legal_basis: str = Field(description="legal basis of keeping it")


class TravellerData(BaseModel):
    """Everything stored about one traveller of the calling app, with each item's legal basis."""

    traveller_ref: str = Field(description="the app's reference for the traveller")
    app: str = Field(description="the calling app (tenant)")
    exported_at: datetime = Field(description="when this export was made")
    consents: list[Consent] = Field(description="current consents")
    consent_receipts: list[ReceiptEntry] = Field(description="every receipt, oldest first")
    trip_records: list[TripRecordOut] = Field(description="trip records still linkable")
    bookings: list[dict[str, Any]] = Field(description="bookings that refer to the traveller")


class ReleaseCreate(Strict):
    """Ask for a release of a closed period."""

    period: str = Field(
        pattern=PERIOD_PATTERN, description="the month, YYYY-MM", examples=["2026-11"]
    )
    zone_system: str = Field(
        description="fare-zones, h3-7, h3-8 or uploaded districts", examples=["fare-zones"]
    )
    bucket: Bucket = Field(description="time bucket: hour of day, part of day, or date")
    breakdown: list[Dimension] = Field(
        default_factory=list, max_length=2, description="also count by mode and/or operator"
    )
    epsilon: float | None = Field(
        default=None, gt=0, le=10, description="differential privacy: epsilon this release spends"
    )


class ReleaseCell(BaseModel):
    """A published cell (every cell of the grid not listed is suppressed)."""

    origin: str = Field(description="origin zone")
    destination: str = Field(description="destination zone")
    bucket: str = Field(description="time bucket")
    mode: str = Field(description="mode, or * without a mode breakdown")
    operator: str = Field(description="operator, or * without an operator breakdown")
    count: int = Field(description="trips (with noise when the release has epsilon)")


class Release(BaseModel):
    """A release's parameters and counts (the ledger entry)."""

    id: UUID = Field(description="the release")
    period: str = Field(description="the month released")
    zone_system: str = Field(description="zone system of the origins and destinations")
    bucket: Bucket = Field(description="time bucket")
    breakdown: list[str] = Field(description="extra dimensions counted")
    k: int = Field(description="a published cell has at least k distinct travellers")
    epsilon: float | None = Field(description="epsilon spent (none: no noise)")
    noise_scale: float | None = Field(description="scale of the discrete Laplace noise")
    margin_of_error_95: int | None = Field(description="95% of noisy counts are this close")
    max_trips_per_traveller: int = Field(description="a traveller's contribution is capped")
    buckets: list[str] = Field(description="every bucket of the grid")
    modes: list[str] = Field(description="every mode of the grid")
    operators: list[str] = Field(description="every operator of the grid")
    cells_total: int = Field(description="cells of the grid")
    cells_published: int = Field(description="cells with a count")
    cells_suppressed: int = Field(description="cells suppressed (fewer than k travellers)")
    synthetic: bool = Field(description="counts demo trips, not travelled ones")
    created_by: str = Field(description="the key that made it")
    created_at: datetime = Field(description="when")


class Zone(BaseModel):
    """A zone of a zone system."""

    id: str = Field(description="zone id")
    name: str = Field(description="zone name")
    geometry: dict[str, Any] | None = Field(description="GeoJSON outline (none for _other)")
    centroid: list[float] | None = Field(description="[lon, lat]")


class ReleaseDetail(Release):
    """A release with its zones and published cells."""

    zones: list[Zone] = Field(description="the zones it was made on, _other last")
    cells: list[ReleaseCell] = Field(description="published cells; every other cell is suppressed")


class ReleaseList(BaseModel):
    """Releases, newest first."""

    items: list[Release] = Field(description="the releases")


class ReleaseListQuery(Strict):
    """Filter releases."""

    period: str | None = Field(default=None, pattern=PERIOD_PATTERN, description="one month")


ExportFormat = Literal["json", "csv", "geojson", "parquet", "flowmap", "visum"]


class ReleaseQuery(Strict):
    """How to download a release."""

    format: ExportFormat | None = Field(
        default=None,
        description="overrides the Accept header: json, csv, geojson, parquet, "
        "flowmap (a zip of locations.csv and flows.csv) or visum ($O matrix)",
    )
    bucket: str | None = Field(default=None, description="Visum: the bucket of the matrix")
    mode: str | None = Field(default=None, description="Visum: the mode of the matrix")
    operator: str | None = Field(default=None, description="Visum: the operator of the matrix")


class LedgerPeriod(BaseModel):
    """A period's budget and releases."""

    period: str = Field(description="the month")
    budget_epsilon: float = Field(description="epsilon per traveller for the whole period")
    spent_epsilon: float = Field(description="spent so far")
    remaining_epsilon: float = Field(description="left to spend")
    first_released_at: datetime | None = Field(description="the first release")
    key_destroyed_at: datetime | None = Field(description="when the pseudonym key was destroyed")
    records_purged_at: datetime | None = Field(description="when raw trip records were deleted")
    releases: list[Release] = Field(description="releases of the period, oldest first")


class Ledger(BaseModel):
    """Every period's privacy budget and every release."""

    periods: list[LedgerPeriod] = Field(description="periods, oldest first")


class ZoneSystem(BaseModel):
    """A zone system."""

    id: str = Field(description="its id")
    name: str = Field(description="what it is")
    kind: Literal["built-in", "districts"] = Field(description="built in, or uploaded districts")
    created_at: datetime | None = Field(description="when districts were uploaded")


class ZoneSystemList(BaseModel):
    """Every zone system."""

    items: list[ZoneSystem] = Field(description="the zone systems")


class ZoneList(BaseModel):
    """Every zone of a zone system."""

    zone_system: str = Field(description="its id")
    zones: list[Zone] = Field(description="every zone, _other last")


class DistrictsCreate(Strict):
    """Upload districts: a GeoJSON FeatureCollection of polygons with ids."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", description="the new system's id")
    name: str = Field(min_length=1, max_length=200, description="its name")
    geojson: dict[str, Any] = Field(description="a FeatureCollection of (Multi)Polygons with ids")
