"""HTTP handlers, one module per resource; importing a module declares its endpoints."""

from __future__ import annotations

import importlib

#: Every handler module, in the order their routes appear in the OpenAPI document.
MODULES = (
    "pages",
    "system",
    "keys",
    "operators",
    "operator_sales",
    "operator_events",
    "conditions",
    "open_data",
    "network_map",
    "journeys",
    "sales",
    "verification",
    "realtime",
    "vehicles",
    "flows",
    "webhooks",
    "settlements",
)


def load() -> None:
    """Import every handler module so that its endpoints are declared."""
    for name in MODULES:
        importlib.import_module(f"gateway.handlers.{name}")
