"""One guarded adapter per operator, built from the operator's row and rebuilt when it changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from operators.adapter import OperatorAdapter
from operators.registry import HttpSession, OperatorConfig, build_adapter
from operators.resilience import Guard, Policy
from sales.cache import Cache
from sales.errors import NotFound
from sales.sealed import unseal

T = TypeVar("T")


class GuardedAdapter:
    """An operator's adapter whose calls pass through that operator's guard."""

    def __init__(self, adapter: OperatorAdapter, guard: Guard) -> None:
        self.adapter = adapter
        self.guard = guard

    async def call(self, fn: Callable[[OperatorAdapter], Awaitable[T]], *, idempotent: bool) -> T:
        """Run one adapter call under the operator's timeout, limits and breaker."""
        return await self.guard.run(lambda: fn(self.adapter), idempotent=idempotent)


class Adapters:
    """Every operator's guarded adapter, keyed by operator id."""

    def __init__(
        self, session: HttpSession, maas_id: str, policy: Policy, secret: bytes | None = None
    ) -> None:
        self.session = session
        self.maas_id = maas_id
        self.policy = policy
        self.secret = secret
        self._built: dict[str, tuple[OperatorConfig, GuardedAdapter]] = {}

    async def get(
        self, conn: asyncpg.Connection | asyncpg.Pool, operator_id: str, cache: Cache | None = None
    ) -> GuardedAdapter:
        """Return the operator's adapter (`NotFound` for an unknown operator)."""

        async def load() -> asyncpg.Record | None:
            row: asyncpg.Record | None = await conn.fetchrow(
                "SELECT id, sales_channel, tomp_url, tomp_token FROM operators WHERE id = $1",
                operator_id,
            )
            return row

        row = await (
            load() if cache is None else cache.get("operators", ("adapter", operator_id), load)
        )
        if row is None:
            raise NotFound.of("operator", operator_id)
        # The sealed token is compared, so it is opened only when the operator's row changed.
        config = OperatorConfig(row["id"], row["sales_channel"], row["tomp_url"], row["tomp_token"])
        known = self._built.get(operator_id)
        if known is not None and known[0] == config:
            return known[1]
        token = None if config.tomp_token is None else unseal(config.tomp_token, self.secret)
        opened = OperatorConfig(config.operator_id, config.sales_channel, config.tomp_url, token)
        guard = known[1].guard if known is not None else Guard(operator_id, self.policy)
        guarded = GuardedAdapter(build_adapter(opened, self.session, self.maas_id), guard)
        self._built[operator_id] = (config, guarded)
        return guarded
