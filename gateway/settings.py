"""Settings from `MAAS_*` environment variables, validated once at start-up."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(BaseSettings):
    """Everything the gateway reads from its environment."""

    # An empty variable counts as unset (compose files pass `${NAME:-}` through).
    model_config = SettingsConfigDict(
        env_prefix="MAAS_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset starts an embedded server"
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL; unset starts an embedded one"
    )
    redis_prefix: str = Field(default="maas:", description="prefix of every Redis key")
    data_dir: Path = Field(default=Path(".maas"), description="embedded servers and uploads")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    reuse_port: bool = Field(
        default=False, description="SO_REUSEPORT: several processes serve one port"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="JSON request bodies")
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, ge=1024, description="GTFS uploads")
    rate_limit_requests: int = Field(default=600, ge=1, description="per key and window")
    rate_limit_anonymous_requests: int = Field(default=300, ge=1, description="per IP and window")
    rate_limit_window_s: int = Field(default=60, ge=1, le=3600)
    redis_timeout_s: float = Field(default=0.25, gt=0, description="a Redis call gives up after")
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    shutdown_timeout_s: float = Field(default=10.0, gt=0)
    demo: bool = Field(default=False, description="load the Kuopio demo data on start")
    booking_hold_s: int = Field(default=600, ge=10, description="PENDING bookings expire after")
    expiry_interval_s: float = Field(default=5.0, gt=0, description="how often expiry runs")
    operator_timeout_s: float = Field(default=5.0, gt=0, description="one call to an operator")
    operator_attempts: int = Field(default=3, ge=1, le=10, description="tries of a safe call")
    operator_concurrency: int = Field(default=16, ge=1, description="calls at once per operator")
    booking_lease_s: float | None = Field(
        default=None,
        gt=0,
        description="how long a process may call a booking's operators before the recovery "
        "task of any process takes the booking over (default: attempts x timeout, with margin)",
    )
    maas_id: str = Field(default="maas-gateway", description="our id towards TOMP back-ends")
    allow_private_urls: bool = Field(
        default=False, description="let operators configure loopback/private URLs (tests only)"
    )
    signing_key_secret: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="encrypts operators' ticket-signing keys in the database",
    )
    map_tiles: str = Field(
        default="",
        description="tile URL template of the /map page's background, e.g. "
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png (none: no background, works offline)",
    )
    map_attribution: str = Field(default="", description="the tiles' attribution (HTML)")
    flows_timezone: str = Field(
        default="Europe/Helsinki", description="time zone of trip-flow periods and hour buckets"
    )
    flows_k: int = Field(default=10, ge=2, description="a released cell needs k travellers")
    flows_budget_epsilon: float = Field(
        default=1.0, ge=0, description="differential-privacy budget per traveller per period"
    )
    flows_max_trips_per_traveller: int = Field(
        default=10, ge=1, le=1000, description="trips one traveller adds to a period's releases"
    )
    flows_max_cells: int = Field(default=2_000_000, ge=1, description="cells a release may hold")
    flows_interval_s: float = Field(
        default=30.0, gt=0, description="how often travel states and trip records are updated"
    )
    flows_close_after_h: float = Field(
        default=24.0, ge=0, description="a period can be released this long after it ends"
    )
    flows_key_grace_days: float = Field(
        default=7.0, ge=0, description="a period's pseudonym key outlives its first release"
    )
    flows_retention_days: float = Field(
        default=30.0, ge=0, description="raw trip records outlive their period's first release"
    )
    flows_controller: str = Field(
        default="MaaS Gateway operator", description="data controller on consent receipts"
    )
    flows_controller_contact: str = Field(
        default="privacy@maas-gateway.example", description="the controller's contact"
    )
    flows_controller_address: str = Field(
        default="Kuopio, Finland", description="the controller's address"
    )
    flows_policy_url: str = Field(
        default="https://maas-gateway.example/privacy", description="privacy policy on receipts"
    )
    flows_jurisdiction: str = Field(default="FI", description="jurisdiction on consent receipts")
    trusted_proxies: Annotated[tuple[Network, ...], NoDecode] = Field(
        default=(),
        description="reverse proxies (addresses or networks, comma-separated) whose "
        "X-Forwarded-For names the client",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description="where clients reach the gateway (tickets name their status list under "
        "it); unset: http://MAAS_HOST:MAAS_PORT",
    )
    signing_key_lead_time_h: float = Field(
        default=24.0,
        ge=0,
        le=24 * 90,
        description="how long `maas signing-keys rotate` publishes the next key before it signs",
    )

    @property
    def base_url(self) -> str:
        """The gateway's public URL, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def signing_secret(self) -> bytes | None:
        """The signing-key secret as bytes, or None when keys are stored unencrypted."""
        secret = self.signing_key_secret
        return None if secret is None else secret.get_secret_value().encode()

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Resolve the data directory once: servers that change directory must find it."""
        return value.expanduser().resolve()

    @field_validator("flows_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """Refuse a time zone the system does not know."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        """Accept "10.0.0.0/8, 192.168.1.5" from the environment."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


class SettingsError(Exception):
    """The environment holds a setting that is not valid."""


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings, naming the bad variable when one is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "MAAS_" + "_".join(str(p) for p in err["loc"]).upper()
            secret = any(str(p).endswith("secret") for p in err["loc"])
            got = "hidden" if secret else repr(err.get("input"))
            lines.append(f"{name}: {err['msg']} (got {got})")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None
