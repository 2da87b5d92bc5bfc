"""Every broken-feed case is refused with its error; the previous feed stays current."""

from __future__ import annotations

import uuid
import zipfile
from pathlib import Path

import asyncpg
import pytest

from gateway import operator_store
from gateway.feeds import publish_feed
from gateway.problems import domain_problem
from gtfs.feed.store import list_feed_versions
from gtfs.feed.validate.archive import FeedInvalid, ZipLimits
from tests.gtfs.feed.test_validate import BROKEN, Edit
from tests.timetable_data import gtfs_path, rewrite_zip


@pytest.fixture
async def serving(db: asyncpg.Pool, shared_data: Path) -> tuple[str, int]:
    """An operator with the good hsl-minimal feed current; return (operator, version)."""
    operator_id = f"broken-{uuid.uuid4().hex[:8]}"
    await operator_store.create_operator(db, operator_id, "Broken feeds")
    _, stored = await publish_feed(db, gtfs_path(shared_data, "hsl-minimal.zip"), operator_id)
    return operator_id, stored.version_id


async def _assert_still_serving(db: asyncpg.Pool, serving: tuple[str, int]) -> None:
    versions = await list_feed_versions(db, serving[0])
    assert [(v.id, v.is_current) for v in versions] == [(serving[1], True)]


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [(case[1], case[2], case[5]) for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
async def test_broken_feed_leaves_the_previous_feed_current(
    db: asyncpg.Pool,
    shared_data: Path,
    tmp_path: Path,
    serving: tuple[str, int],
    file: str,
    change: Edit,
    message: str,
) -> None:
    broken = rewrite_zip(
        gtfs_path(shared_data, "hsl-minimal.zip"), tmp_path / "b.zip", {file: change}
    )
    with pytest.raises(FeedInvalid) as caught:
        await publish_feed(db, broken, serving[0])
    problem = domain_problem(caught.value)
    assert problem.status == 422
    assert any(message in e["message"] for e in problem.extra["errors"])
    await _assert_still_serving(db, serving)


async def test_zip_bomb_and_oversized_file_leave_the_previous_feed_current(
    db: asyncpg.Pool, shared_data: Path, tmp_path: Path, serving: tuple[str, int]
) -> None:
    bomb = rewrite_zip(gtfs_path(shared_data, "hsl-minimal.zip"), tmp_path / "bomb.zip", {})
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("shapes.txt", "shape_id\n" + "0" * 3_000_000)
    with pytest.raises(FeedInvalid, match="zip bomb"):
        await publish_feed(db, bomb, serving[0], limits=ZipLimits(ratio_min_bytes=1_000_000))
    with pytest.raises(FeedInvalid, match="over the limit"):
        await publish_feed(db, bomb, serving[0], limits=ZipLimits(max_file_bytes=1_000_000))
    await _assert_still_serving(db, serving)
