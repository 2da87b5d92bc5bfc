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

from operators.adapter import OperatorError, OperatorUnavailable

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
    """Closed, open after consecutive failures, then half-open: exactly one trial call.

    While the trial runs every other call is refused; its success closes the
    breaker, its failure opens it for another `reset_s`.
    """

    def __init__(self, failures: int, reset_s: float) -> None:
        self.threshold = failures
        self.reset_s = reset_s
        self.failures = 0
        self.opened_at: float | None = None
        self.trial_running = False

    @property
    def state(self) -> str:
        """Return `closed`, `open` or `half_open`."""
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at < self.reset_s:
            return "open"
        return "half_open"

    @property
    def is_open(self) -> bool:
        """Tell whether a call would be refused right now."""
        state = self.state
        return state == "open" or (state == "half_open" and self.trial_running)

    def allow(self) -> bool:
        """Let a call through (taking the one trial when half-open), or refuse it."""
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self.trial_running:
            return False
        self.trial_running = True
        return True

    def record(self, ok: bool) -> None:
        """Count a call's outcome."""
        self.trial_running = False
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = time.monotonic()

    def abandon(self) -> None:
        """Give back a trial that ended with neither an answer nor a failure (cancelled)."""
        self.trial_running = False


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
            if not self.breaker.allow():
                # Refused here, never sent: the caller knows the operator did nothing.
                raise NotSent(f"{self.operator_id}: circuit open after repeated failures")
            try:
                async with self.semaphore:
                    result = await asyncio.wait_for(call(), self.policy.timeout_s)
            except (TimeoutError, OperatorUnavailable) as exc:
                self.breaker.record(ok=False)
                safe = idempotent or isinstance(exc, NotSent)
                if not safe or attempt == self.policy.attempts:
                    raise _unavailable(self.operator_id, exc) from exc
                await asyncio.sleep(_backoff_s(self.policy.backoff_s, attempt))
            except OperatorError:
                # A refusal is an answer: the operator is up.
                self.breaker.record(ok=True)
                raise
            except BaseException:
                # Cancelled, or a bug: not the operator's failure, but a trial must not stay taken.
                self.breaker.abandon()
                raise
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
