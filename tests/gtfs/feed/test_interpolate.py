"""Blank stop times between timepoints are interpolated (Porto Alegre EPTC: 96% blank)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gtfs.feed.interpolate import interpolate_stop_times, interpolate_tables
from gtfs.feed.read import read_tables
from gtfs.tables import GtfsTables
from tests.timetable_data import gtfs_path


@pytest.fixture(scope="module")
def eptc(shared_data: Path) -> tuple[GtfsTables, GtfsTables, int]:
    raw = read_tables(gtfs_path(shared_data, "porto-alegre-eptc.zip"), "eptc")
    filled, count = interpolate_tables(raw)
    return raw, filled, count


def test_eptc_every_time_is_set(eptc: tuple[GtfsTables, GtfsTables, int]) -> None:
    raw, filled, count = eptc
    blank = int(raw.stop_times["arrival_s"].isna().sum())
    assert blank / len(raw.stop_times) > 0.9
    assert count == blank
    assert filled.stop_times["arrival_s"].notna().all()
    assert filled.stop_times["departure_s"].notna().all()


def test_eptc_times_never_decrease_along_a_trip(eptc: tuple[GtfsTables, GtfsTables, int]) -> None:
    st = eptc[1].stop_times.sort_values(["trip_id", "stop_sequence"])
    assert (st["departure_s"] >= st["arrival_s"]).all()
    previous_departure = st.groupby("trip_id")["departure_s"].shift(1)
    going_back = st["arrival_s"] < previous_departure
    assert not going_back.fillna(False).any()


def test_eptc_timepoints_keep_their_times(eptc: tuple[GtfsTables, GtfsTables, int]) -> None:
    raw, filled, _ = eptc
    key = ["trip_id", "stop_sequence"]
    merged = raw.stop_times[[*key, "arrival_s"]].merge(
        filled.stop_times[[*key, "arrival_s", "timepoint"]], on=key, suffixes=("_raw", "")
    )
    timed = merged["arrival_s_raw"].notna()
    assert (merged.loc[timed, "arrival_s_raw"] == merged.loc[timed, "arrival_s"]).all()
    assert (merged.loc[~timed, "timepoint"] == 0).all()


def _one_trip(sdt: list[float | None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    stop_times = pd.DataFrame(
        {
            "trip_id": ["t"] * 4,
            "stop_sequence": [1, 2, 3, 4],
            "stop_id": ["a", "b", "c", "d"],
            "arrival_s": pd.array([1000, None, None, 1600], dtype="Int32"),
            "departure_s": pd.array([1000, None, None, 1600], dtype="Int32"),
            "timepoint": pd.array([1, None, None, 1], dtype="Int32"),
            "shape_dist_traveled": pd.array(sdt, dtype="Float64"),
        }
    )
    # Stops along a meridian: b is 1/6 of the way, c is 1/2.
    stops = pd.DataFrame(
        {
            "stop_id": ["a", "b", "c", "d"],
            "stop_lat": [60.0, 60.01, 60.03, 60.06],
            "stop_lon": [25.0] * 4,
        }
    )
    return stop_times, stops


def test_interpolates_by_shape_distance_when_present() -> None:
    stop_times, stops = _one_trip([0.0, 5.0, 7.5, 10.0])
    filled, count = interpolate_stop_times(stop_times, stops)
    assert count == 2
    assert filled["arrival_s"].tolist() == [1000, 1300, 1450, 1600]


def test_interpolates_by_straight_line_distance_without_shapes() -> None:
    stop_times, stops = _one_trip([None, None, None, None])
    filled, _ = interpolate_stop_times(stop_times, stops)
    assert np.allclose(filled["arrival_s"].to_numpy(dtype=float), [1000, 1100, 1300, 1600], atol=1)


def test_interpolates_evenly_without_coordinates() -> None:
    stop_times, stops = _one_trip([None, None, None, None])
    filled, _ = interpolate_stop_times(stop_times, stops.iloc[:0])
    assert filled["arrival_s"].tolist() == [1000, 1200, 1400, 1600]
