"""Timetable test data: real feeds from ../shared/data/gtfs, the Kuopio demo imported once per run,
and broken variants of a real feed built in a temporary folder."""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import asyncpg
import pytest

from gateway.demo.run import import_demo
from gateway.resources import init_connection


def gtfs_path(shared_data: Path, name: str) -> Path:
    """Return a real feed of ../shared/data/gtfs."""
    return shared_data / "gtfs" / name


def rewrite_zip(
    source: Path, target: Path, changes: Mapping[str, Callable[[str], str] | str | None]
) -> Path:
    """Copy a GTFS zip, replacing (str), editing (callable) or dropping (None) some files."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            change = changes.get(info.filename, "keep")
            text = src.read(info).decode("utf-8-sig")
            if change is None:
                continue
            if callable(change):
                text = change(text)
            elif change != "keep":
                text = change
            # The source's entry (its timestamp too): the same changes give the same bytes,
            # so the same feed hashes the same, whatever second it is written in.
            out.writestr(info, text)
        for name, change in changes.items():
            if name not in src.namelist() and isinstance(change, str):
                out.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), change)
    return target


async def _import_kuopio(database_url: str, feed: Path) -> None:
    async with asyncpg.create_pool(
        database_url, min_size=1, max_size=2, init=init_connection
    ) as pool:
        await import_demo(pool, feed)


@pytest.fixture(scope="session")
def kuopio_zip(shared_data: Path) -> Path:
    """Return the Kuopio feed (five agencies)."""
    return gtfs_path(shared_data, "kuopio.zip")


@pytest.fixture(scope="session")
def kuopio_demo(database_url: str, kuopio_zip: Path) -> str:
    """Import the five Kuopio operators into this run's database once; return its URL."""
    asyncio.run(_import_kuopio(database_url, kuopio_zip))
    return database_url
