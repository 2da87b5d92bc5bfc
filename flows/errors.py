"""The flows domain's errors: each has a stable `code`; the gateway maps them to statuses."""

from __future__ import annotations


class FlowsError(Exception):
    """Something the flows domain refuses, in its own words."""

    code = "flows_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TravellerNotFound(FlowsError):
    """The tenant has nothing stored about this traveller (or it is another tenant's)."""

    code = "not_found"


class ReleaseNotFound(FlowsError):
    """No release has this id."""

    code = "not_found"


class ZoneSystemNotFound(FlowsError):
    """No zone system has this id."""

    code = "unknown_zone_system"


class InvalidZones(FlowsError):
    """Uploaded districts are not GeoJSON polygons with ids."""

    code = "invalid_zones"


class BuiltInZoneSystem(FlowsError):
    """The fare zones and H3 systems cannot be replaced by an upload."""

    code = "built_in_zone_system"


class ZoneSystemExists(FlowsError):
    """Districts of that id were uploaded already (they never change once trips carry them)."""

    code = "zone_system_exists"


class PeriodNotClosed(FlowsError):
    """Trips of the period may still be recorded, so it cannot be released yet."""

    code = "period_not_closed"


class PeriodPurged(FlowsError):
    """The period's raw trip records are gone (retention), so nothing more can be released."""

    code = "period_purged"


class BudgetExceeded(FlowsError):
    """The release would spend more epsilon than the period has left."""

    code = "budget_exceeded"


class InconsistentRelease(FlowsError):
    """The release would hold a cell of 1 to k-1 travellers among trips already published."""

    code = "inconsistent_release"


class ZoneSystemTooNew(FlowsError):
    """The districts were uploaded after trips of the period were recorded without them."""

    code = "zone_system_too_new"


class ReleaseTooLarge(FlowsError):
    """Zones x zones x buckets x breakdown is more cells than a release may hold."""

    code = "release_too_large"


class UnsupportedExport(FlowsError):
    """The requested download cannot be made of this release (a Visum matrix needs a bucket)."""

    code = "unsupported_export"
