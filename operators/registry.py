"""Every adapter the gateway knows, and how to build one for an operator."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from operators import hosted, tomp
from operators.adapter import AdapterSpec, OperatorAdapter
from operators.hosted.adapter import HostedAdapter
from operators.tomp.adapter import TompAdapter
from operators.tomp.client import TompClient

#: Registration is explicit: a folder under operators/ that is not here is a bug (a test checks).
ADAPTERS: tuple[AdapterSpec, ...] = (hosted.SPEC, tomp.SPEC)


@dataclass(frozen=True, slots=True)
class OperatorConfig:
    """How an operator sells: its adapter and, for back-ends, where and with what token."""

    operator_id: str
    sales_channel: str
    tomp_url: str | None = None
    tomp_token: str | None = None


#: The one outgoing HTTP session the gateway hands to adapters (they never open their own).
HttpSession = aiohttp.ClientSession


def build_adapter(config: OperatorConfig, session: HttpSession, maas_id: str) -> OperatorAdapter:
    """Return the adapter for an operator's sales channel."""
    if config.sales_channel == hosted.SPEC.id:
        return HostedAdapter(config.operator_id)
    if config.sales_channel == tomp.SPEC.id:
        if not config.tomp_url:
            raise ValueError(f"operator {config.operator_id} sells over TOMP but has no tomp_url")
        client = TompClient(session, config.tomp_url, config.tomp_token, maas_id)
        return TompAdapter(config.operator_id, client)
    raise ValueError(f"unknown sales channel {config.sales_channel!r}")
