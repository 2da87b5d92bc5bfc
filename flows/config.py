"""What the flows domain is configured with (the gateway fills it from its settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Controller:
    """The data controller named on every consent receipt (Kantara Consent Receipt)."""

    name: str = "MaaS Gateway operator"
    contact: str = "privacy@maas-gateway.example"
    address: str = "Kuopio, Finland"
    policy_url: str = "https://maas-gateway.example/privacy"
    jurisdiction: str = "FI"
    language: str = "en"


@dataclass(frozen=True, slots=True)
class FlowsConfig:
    """Privacy parameters, retention and the time zone that periods and buckets follow."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Helsinki"))
    k: int = 10
    budget_epsilon: float = 1.0
    max_trips_per_traveller: int = 10
    max_cells: int = 2_000_000
    #: PostgreSQL's work_mem for a release's aggregation (its hash tables stay in memory).
    work_mem_mb: int = 256
    #: A period is closed, so releasable, this long after it ends (late bookings finish).
    close_after: timedelta = timedelta(days=1)
    #: The pseudonym key outlives the period's first release by this much.
    key_grace: timedelta = timedelta(days=7)
    #: Raw trip records outlive the period's first release by this much.
    retention: timedelta = timedelta(days=30)
    controller: Controller = field(default_factory=Controller)
