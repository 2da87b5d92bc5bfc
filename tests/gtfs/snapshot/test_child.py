"""`run_in_child`: a job in a child process, its answer, its errors, its end."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gtfs.snapshot.child import ChildTraceback, CompileFailed, run_in_child

ROOT = Path(__file__).resolve().parents[3]


def _sleep_for_ever(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(3600)


def _raise_value_error(text: str) -> None:
    raise ValueError(text)


class _Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("a lock in it")
        self.lock = threading.Lock()


def _raise_unpicklable() -> None:
    raise _Unpicklable


def _exit(code: int) -> None:
    os._exit(code)


def _square(n: int) -> int:
    return n * n


async def test_the_answer_and_the_error_of_a_job_come_back() -> None:
    assert await run_in_child(_square, 12) == 144
    with pytest.raises(ValueError, match="no such stop") as caught:
        await run_in_child(_raise_value_error, "no such stop")
    # Where it was raised in the child is the error's cause, for the log.
    assert isinstance(caught.value.__cause__, ChildTraceback)
    assert "_raise_value_error" in str(caught.value.__cause__)


async def test_an_error_that_does_not_pickle_still_says_what_it_was() -> None:
    with pytest.raises(CompileFailed, match="_Unpicklable"):
        await run_in_child(_raise_unpicklable)


async def test_a_child_that_dies_is_named_with_its_exit_code() -> None:
    with pytest.raises(
        CompileFailed, match=r"the _exit process ended abruptly \(pid \d+ exit code 3\)"
    ):
        await run_in_child(_exit, 3)


async def test_jobs_in_a_row_leave_no_file_descriptor_behind() -> None:
    await run_in_child(_square, 1)  # the forkserver's own pipes, once per process
    before = _open_files()
    for n in range(5):
        assert await run_in_child(_square, n) == n * n
    for relay in threading.enumerate():  # each job's log relay closes its pipe as it ends
        if relay.name == "child-logs":
            relay.join(10)
    assert _open_files() == before


def _open_files() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def test_a_cancelled_job_kills_its_child_and_lets_the_process_exit(tmp_path: Path) -> None:
    # A thread left waiting for a killed child's answer kept the interpreter (a gateway
    # told to stop, or pytest) from ever exiting: this process must exit, and the child
    # be gone.
    pid_file = tmp_path / "pid"
    probe = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from gtfs.snapshot.child import run_in_child\n"
        "from tests.gtfs.snapshot.test_child import _sleep_for_ever\n"
        "async def main():\n"
        f"    pid = Path({str(pid_file)!r})\n"
        "    task = asyncio.create_task(run_in_child(_sleep_for_ever, str(pid)))\n"
        "    while not pid.exists():\n"
        "        await asyncio.sleep(0.05)\n"
        "    task.cancel()\n"
        "    try:\n"
        "        await task\n"
        "    except asyncio.CancelledError:\n"
        "        print('cancelled', flush=True)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(  # noqa: S603  (our own interpreter and script)
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
