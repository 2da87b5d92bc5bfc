"""Calls to operators with a timeout, a concurrency limit, a circuit breaker and careful retries.

A slow or failing operator must never slow the others: each operator has a
guard of its own, so its semaphore, breaker and timeouts touch nobody else.
A call is retried (with jittered backoff) only when that is safe: when the
request never reached the operator, or the operation is idempotent.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from operators.adapter import OperatorUnavailable

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Policy:
    """How patient the gateway is with one operator."""

    timeout_s: float = 5.0
    attempts: int = 3
    backoff_s: float = 0.1
    concurrency: int = 16
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0


class NotSent(OperatorUnavailable):
    """The request never reached the operator (connection refused, DNS): always safe to retry."""


class CircuitBreaker:
    """Opens after consecutive failures; lets one trial call through after the reset time."""

    def __init__(self, failures: int, reset_s: float) -> None:
        self.threshold = failures
        self.reset_s = reset_s
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        """Tell whether calls are refused right now."""
        if self.opened_at is None:
            return False
        return time.monotonic() - self.opened_at < self.reset_s

    def record(self, ok: bool) -> None:
        """Count a call's outcome."""
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()


class Guard:
    """One operator's limits: every call to that operator goes through its guard."""

    def __init__(self, operator_id: str, policy: Policy) -> None:
        self.operator_id = operator_id
        self.policy = policy
        self.semaphore = asyncio.Semaphore(policy.concurrency)
        self.breaker = CircuitBreaker(policy.breaker_failures, policy.breaker_reset_s)

    async def run(self, call: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """Run `call` under the timeout and limits, retrying only where it is safe."""
        for attempt in range(1, self.policy.attempts + 1):
            if self.breaker.is_open:
                raise OperatorUnavailable(
                    f"{self.operator_id}: circuit open after repeated failures"
                )
            try:
                async with self.semaphore:
                    result = await asyncio.wait_for(call(), self.policy.timeout_s)
            except (TimeoutError, OperatorUnavailable) as exc:
                self.breaker.record(ok=False)
                safe = idempotent or isinstance(exc, NotSent)
                if not safe or attempt == self.policy.attempts:
                    raise _unavailable(self.operator_id, exc) from exc
                await asyncio.sleep(_backoff_s(self.policy.backoff_s, attempt))
            else:
                self.breaker.record(ok=True)
                return result
        raise AssertionError("unreachable")  # pragma: no cover


def _backoff_s(base_s: float, attempt: int) -> float:
    # Jitter spreads retries of many clients; it needs no cryptographic randomness.
    return float(base_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))  # noqa: S311


def _unavailable(operator_id: str, exc: BaseException) -> OperatorUnavailable:
    if isinstance(exc, OperatorUnavailable):
        return exc
    return OperatorUnavailable(f"{operator_id}: no answer in time")
