"""Compiling hot loops to machine code with numba, loaded only by the processes that need it.

numba and llvmlite take about 150 MiB: a process that only imports a feed
(`maas import-gtfs`, an upload) must not pay for them, so nothing imports
numba at module level; `compiled` imports it when a kernel is first needed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


def compiled(function: F) -> F:
    """Compile a function to machine code on its first call (cached on disk), GIL released.

    Where numba finds no writable cache folder (the package's own, `NUMBA_CACHE_DIR`,
    the user's cache), every process compiles again instead of failing to import.
    """
    import numba

    try:
        return cast(F, numba.njit(cache=True, nogil=True)(function))
    except RuntimeError as exc:  # "cannot cache function ...: no locator available"
        log.warning("numba cannot cache compiled code: %s", exc)
        return cast(F, numba.njit(nogil=True)(function))
