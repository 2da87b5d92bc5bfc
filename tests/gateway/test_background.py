"""Background tasks stop for certain, even when a cancel is swallowed on the way."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from gateway.background import raise_if_cancelling, stop, wait_set


async def _swallows_the_first_cancel(seen: list[str]) -> None:
    """Run like a loop whose wait_for dropped a cancel (Python 3.11), then wait again."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        seen.append("swallowed")
    await asyncio.sleep(3600)


async def test_stop_cancels_again_a_task_that_ran_on(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []
    task = asyncio.create_task(_swallows_the_first_cancel(seen), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="gateway.background"):
        await asyncio.wait_for(stop(task), 10)
    assert task.cancelled()
    assert seen == ["swallowed"]
    assert [r.args[0] for r in caplog.records] == ["stubborn"]  # type: ignore[index]


async def test_stop_waits_for_every_task_and_reports_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup broke") from None

    done = asyncio.create_task(asyncio.sleep(0))
    await done
    tasks = [asyncio.create_task(asyncio.sleep(3600)), asyncio.create_task(fails_on_cancel())]
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="gateway.background"):
        await stop(done, *tasks)
    assert all(task.done() for task in tasks)
    assert [str(r.exc_info[1]) for r in caplog.records if r.exc_info] == ["cleanup broke"]


async def test_a_loop_honours_a_cancel_its_wait_dropped() -> None:
    async def loop(rounds: list[int]) -> None:
        while True:
            # What 3.11's wait_for does when the cancel races its own timeout:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)
            rounds.append(1)
            raise_if_cancelling()  # the task still says it is cancelling

    rounds: list[int] = []
    task = asyncio.create_task(loop(rounds))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rounds == [1]


async def test_wait_set_says_whether_the_event_came_and_keeps_a_racing_cancel() -> None:
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    event.set()
    assert await wait_set(event, 10) is True
    event.clear()
    waiting = asyncio.create_task(wait_set(event, 10))
    await asyncio.sleep(0)
    event.set()  # the event and the cancel land in one turn of the loop
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
