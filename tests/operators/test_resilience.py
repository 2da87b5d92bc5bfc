import asyncio

import pytest

from operators.adapter import OperatorUnavailable
from operators.resilience import Guard, NotSent, Policy


async def test_breaker_opens_after_repeated_failures_and_refuses_at_once() -> None:
    guard = Guard("slow-ferry", Policy(timeout_s=0.05, attempts=1, breaker_failures=2))
    calls = 0

    async def hang() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(1)

    for _ in range(2):
        with pytest.raises(OperatorUnavailable):
            await guard.run(hang, idempotent=True)
    with pytest.raises(OperatorUnavailable, match="circuit open"):
        await guard.run(hang, idempotent=True)
    assert calls == 2


async def test_unsafe_call_is_not_retried_after_a_timeout() -> None:
    guard = Guard("op", Policy(timeout_s=0.05, attempts=3, backoff_s=0.001))
    calls = 0

    async def hang() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(1)

    with pytest.raises(OperatorUnavailable):
        await guard.run(hang, idempotent=False)
    assert calls == 1


async def test_a_request_that_never_left_is_retried_even_when_unsafe() -> None:
    guard = Guard("op", Policy(attempts=3, backoff_s=0.001))
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise NotSent("connection refused")
        return "ok"

    assert await guard.run(flaky, idempotent=False) == "ok"
    assert calls == 3


async def test_a_slow_operator_does_not_hold_up_another() -> None:
    slow = Guard("slow", Policy(timeout_s=5, concurrency=1))
    fast = Guard("fast", Policy(timeout_s=5, concurrency=1))
    release = asyncio.Event()

    async def stuck() -> None:
        await release.wait()

    async def quick() -> str:
        return "done"

    blocked = [asyncio.create_task(slow.run(stuck, idempotent=True)) for _ in range(3)]
    await asyncio.sleep(0)
    assert await asyncio.wait_for(fast.run(quick, idempotent=True), 1) == "done"
    release.set()
    await asyncio.gather(*blocked)
