"""Compiled kernels: numba loaded only when one is needed, and no cache folder is no failure."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from gtfs.compiled import compiled


def test_without_a_cache_folder_a_kernel_still_compiles(caplog: pytest.LogCaptureFixture) -> None:
    # Code with no source file has no cache location, as a read-only install without a
    # writable home or NUMBA_CACHE_DIR would not.
    scope: dict[str, Callable[[int], int]] = {}
    exec("def add_one(x):\n    return x + 1\n", scope)  # noqa: S102
    add_one = compiled(scope["add_one"])
    assert add_one(41) == 42
    assert "cannot cache" in caplog.text


def test_importing_the_gateway_and_the_planner_loads_no_numba() -> None:
    # numba takes about 150 MiB: `maas import-gtfs` and feed uploads must not pay for it.
    code = (
        "import sys, gateway.cli, gateway.app, gateway.timetable, journeys.planner,"
        " gtfs.snapshot.build; print('numba' in sys.modules)"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
