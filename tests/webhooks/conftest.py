"""A database of each test's own (dispatch rounds claim every due delivery) and a receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import fresh_database


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """Return a fresh migrated database: no other test's deliveries are due in it."""
    with fresh_database(tmp_path) as url:
        yield url
