"""Hostile GTFS zips (issue 14, "Hostile uploads"): bombs, path names, encodings.

Each is refused as a `FeedInvalid` naming the file, or read as the GTFS it holds: never
another exception (a 500 at the gateway), never a file written outside the zip.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import pytest

from gtfs.feed.prepare import prepare_feed
from gtfs.feed.validate.archive import FeedInvalid, ZipLimits, validate_zip
from tests.operators.fares.test_zip_limits import deflate, zip_of
from tests.timetable_data import gtfs_path, rewrite_zip


@pytest.fixture(scope="module")
def hsl(shared_data: Path) -> Path:
    return gtfs_path(shared_data, "hsl-minimal.zip")


def _members(feed: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(feed) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _zip(target: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return target


def _errors(feed: Path, limits: ZipLimits | None = None) -> list[tuple[str, str]]:
    with pytest.raises(FeedInvalid) as caught:
        validate_zip(feed, limits)
    return [(e.file, e.message) for e in caught.value.errors]


@pytest.mark.parametrize("name", ["feed_info.txt", "frequencies.txt"])
def test_a_file_the_gateway_ignores_must_still_be_utf8(
    hsl: Path, tmp_path: Path, name: str
) -> None:
    members = _members(hsl)
    members[name] = "feed_publisher_name,x\nK\xe4rkk\xe4,1\n".encode("latin-1")
    errors = _errors(_zip(tmp_path / "latin1.zip", members))
    assert errors == [
        (name, "not UTF-8 text: byte 0xe4 at offset 23 (GTFS files are UTF-8: save it as UTF-8)")
    ]


def test_a_frequencies_file_gtfs_kit_could_not_parse_is_never_parsed(
    hsl: Path, tmp_path: Path
) -> None:
    members = _members(hsl)
    members["frequencies.txt"] = b"trip_id,start_time,end_time,headway_secs\nt1,6,9,often\n"
    prepared = prepare_feed(_zip(tmp_path / "freq.zip", members), "hsl")
    assert prepared.counts()["stop_times"] > 0
    assert "frequencies.txt" in {w.file for w in prepared.warnings}


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-16", b""), ("latin-1", b""), ("utf-16-be", b"\xfe\xff")],
)
def test_stops_in_another_encoding_are_refused_naming_the_file(
    hsl: Path, tmp_path: Path, encoding: str, prefix: bytes
) -> None:
    members = _members(hsl)
    text = members["stops.txt"].decode("utf-8-sig").replace("Copy", "Töölö", 1)
    members["stops.txt"] = prefix + (text + "x,,Töölö,,60.1,24.9,,,0,,,,\n").encode(encoding)
    errors = _errors(_zip(tmp_path / "enc.zip", members))
    assert [file for file, _ in errors] == ["stops.txt"]
    assert errors[0][1].startswith("not a readable CSV file")


def test_a_utf8_byte_order_mark_is_read_as_utf8(hsl: Path, tmp_path: Path) -> None:
    members = _members(hsl)
    members = {k: b"\xef\xbb\xbf" + v.removeprefix(b"\xef\xbb\xbf") for k, v in members.items()}
    feed = _zip(tmp_path / "bom.zip", members)
    plain = prepare_feed(hsl, "hsl")
    prepared = prepare_feed(feed, "hsl")
    assert prepared.counts() == plain.counts()
    assert prepared.tables.stops["stop_id"].tolist() == plain.tables.stops["stop_id"].tolist()


@pytest.mark.parametrize("prefix", ["../../", "/etc/", "a/../../../"])
def test_member_paths_outside_the_zip_are_read_in_memory_and_never_written(
    hsl: Path, tmp_path: Path, prefix: str
) -> None:
    members = {f"{prefix}{name}": data for name, data in _members(hsl).items()}
    work = tmp_path / "work"
    work.mkdir()
    prepared = prepare_feed(_zip(work / "paths.zip", members), "hsl")
    # Members are read by their base name, from the zip, never extracted anywhere.
    assert prepared.counts() == prepare_feed(hsl, "hsl").counts()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["paths.zip", "work"]


def test_windows_member_paths_are_not_gtfs_files(hsl: Path, tmp_path: Path) -> None:
    members = {f"C:\\gtfs\\{name}": data for name, data in _members(hsl).items()}
    errors = _errors(_zip(tmp_path / "windows.zip", members))
    assert ("stops.txt", "required file is missing") in errors


def test_a_nul_in_a_member_name_is_cut_there_as_zipfile_does(hsl: Path, tmp_path: Path) -> None:
    members = _members(hsl)
    members["stops.txt\x00.exe"] = members.pop("stops.txt")
    prepared = prepare_feed(_zip(tmp_path / "nul.zip", members), "hsl")
    assert len(prepared.tables.stops) == len(prepare_feed(hsl, "hsl").tables.stops)


def test_an_honest_bomb_is_refused_from_its_declared_sizes(hsl: Path, tmp_path: Path) -> None:
    data = b"shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence\n" + b"0" * 64_000_000
    bomb = zip_of([("shapes.txt", deflate(data), zlib.crc32(data), len(data))])
    path = tmp_path / "bomb.zip"
    path.write_bytes(bomb)
    errors = _errors(path)
    assert any(m.endswith("(a zip bomb?)") for _, m in errors), errors


def test_a_bomb_that_declares_less_than_it_holds_is_never_unpacked_past_it(
    hsl: Path, tmp_path: Path
) -> None:
    stops = _members(hsl)["stops.txt"]
    data = stops + b"x,,pad,,60.1,24.9,,,0,,,,\n" * 2_000_000
    path = tmp_path / "liar.zip"
    path.write_bytes(zip_of([("stops.txt", deflate(data), zlib.crc32(data), len(stops))]))
    errors = _errors(path)
    assert any(
        file == "stops.txt" and m.startswith("the zip member is corrupt") for file, m in errors
    ), errors


def test_huge_row_counts_are_bounded_by_the_unpacked_size_limit(hsl: Path, tmp_path: Path) -> None:
    row = b"2143_1,05:50:00,05:50:00,2,99,,0,0,,\n"
    feed = rewrite_zip(hsl, tmp_path / "rows.zip", {})
    with zipfile.ZipFile(feed, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("transfers.txt", b"from_stop_id,to_stop_id,transfer_type\n" + row * 300_000)
    errors = _errors(feed, ZipLimits(max_file_bytes=4_000_000, max_ratio=10_000))
    assert errors[0][0] == "transfers.txt"
    assert "over the limit of 4000000" in errors[0][1]
