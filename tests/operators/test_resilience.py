import asyncio
import time

import pytest

from operators.adapter import OperatorRefused, OperatorUnavailable
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


async def _trip(guard: Guard) -> None:
    async def fail() -> None:
        raise OperatorUnavailable("HTTP 503")

    with pytest.raises(OperatorUnavailable):
        await guard.run(fail, idempotent=False)
    assert guard.breaker.state == "open"
    guard.breaker.opened_at = time.monotonic() - guard.breaker.reset_s  # the reset time passed
    assert guard.breaker.state == "half_open"


async def test_half_open_breaker_lets_exactly_one_trial_call_through() -> None:
    guard = Guard("ferry", Policy(attempts=1, breaker_failures=1, breaker_reset_s=60))
    await _trip(guard)
    answer, reached = asyncio.Event(), asyncio.Event()
    calls = 0

    async def trial() -> str:
        nonlocal calls
        calls += 1
        reached.set()
        await answer.wait()
        return "ok"

    first = asyncio.create_task(guard.run(trial, idempotent=True))
    await reached.wait()
    with pytest.raises(OperatorUnavailable, match="circuit open"):
        await guard.run(trial, idempotent=True)
    assert calls == 1  # the second call never reached the operator
    answer.set()
    assert await first == "ok"
    assert guard.breaker.state == "closed"
    assert await guard.run(trial, idempotent=True) == "ok"


async def test_a_failed_trial_opens_the_breaker_again() -> None:
    guard = Guard("ferry", Policy(attempts=1, breaker_failures=3, breaker_reset_s=60))
    for _ in range(2):
        await _trip_once(guard)
    await _trip(guard)
    calls = 0

    async def still_down() -> None:
        nonlocal calls
        calls += 1
        raise OperatorUnavailable("HTTP 503")

    with pytest.raises(OperatorUnavailable, match="HTTP 503"):
        await guard.run(still_down, idempotent=True)
    # One failed trial is enough (not another `breaker_failures`): open again at once.
    assert guard.breaker.state == "open"
    with pytest.raises(OperatorUnavailable, match="circuit open"):
        await guard.run(still_down, idempotent=True)
    assert calls == 1


async def test_a_cancelled_trial_gives_the_trial_back() -> None:
    guard = Guard("ferry", Policy(attempts=1, breaker_failures=1, breaker_reset_s=60))
    await _trip(guard)
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.sleep(60)

    trial = asyncio.create_task(guard.run(hang, idempotent=True))
    await started.wait()
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial

    async def ok() -> str:
        return "ok"

    assert await guard.run(ok, idempotent=True) == "ok"


async def test_a_refusal_in_half_open_closes_the_breaker() -> None:
    guard = Guard("ferry", Policy(attempts=1, breaker_failures=1, breaker_reset_s=60))
    await _trip(guard)

    async def refuse() -> None:
        raise OperatorRefused("sold out")

    with pytest.raises(OperatorRefused):
        await guard.run(refuse, idempotent=True)
    assert guard.breaker.state == "closed"


async def _trip_once(guard: Guard) -> None:
    async def fail() -> None:
        raise OperatorUnavailable("HTTP 503")

    with pytest.raises(OperatorUnavailable):
        await guard.run(fail, idempotent=False)
