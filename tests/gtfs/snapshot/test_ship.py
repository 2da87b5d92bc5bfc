"""A child's result crosses to the parent through a mapped file (`gtfs/snapshot/ship.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gtfs.snapshot.ship import ALIGN, CHUNK, ship, unship


def test_arrays_come_back_equal_writable_and_as_views_of_the_mapping(tmp_path: Path) -> None:
    value: dict[str, Any] = {
        "ints": np.arange(1_000_003, dtype=np.int64),
        "fortran": np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)),
        "frame": pd.DataFrame({"a": np.arange(5), "name": list("abcde")}),
        "empty": np.zeros(0, dtype=np.float64),
        "text": "not an array",
    }
    shipped = ship(value, str(tmp_path), "result")
    assert len(shipped.header) < 10_000  # the arrays are out of band, not in the header
    assert all(start % ALIGN == 0 for start, _ in shipped.spans)
    back = unship(shipped)
    assert not Path(shipped.path).exists()  # unlinked once mapped
    np.testing.assert_array_equal(back["ints"], value["ints"])
    np.testing.assert_array_equal(back["fortran"], value["fortran"])
    assert back["fortran"].flags.f_contiguous
    pd.testing.assert_frame_equal(back["frame"], value["frame"])
    assert back["empty"].shape == (0,)
    assert back["text"] == "not an array"
    # A view of the mapping, not a copy, and private: writing changes only this process's.
    assert not back["ints"].flags.owndata
    back["ints"][0] = -1
    assert back["ints"][0] == -1


def test_a_value_without_arrays_ships_an_empty_file(tmp_path: Path) -> None:
    shipped = ship({"a": 1}, str(tmp_path), "result")
    assert shipped.spans == ()
    assert unship(shipped) == {"a": 1}


def test_big_containers_come_back_whole_from_chunks_and_shared_once(tmp_path: Path) -> None:
    ids = tuple(f"op:trip{i}" for i in range(CHUNK * 2 + 7))
    index = {trip: i for i, trip in enumerate(ids)}
    rows = [np.arange(3)] * (CHUNK + 1)
    value = {"ids": ids, "again": ids, "index": index, "rows": rows, "small": (1, 2)}
    shipped = ship(value, str(tmp_path), "result")
    assert len(shipped.chunks) == 3 + 3 + 2  # the tuple once, the dict, the list
    assert len(shipped.header) < 10_000
    back = unship(shipped)
    assert back["ids"] == ids
    assert back["again"] is back["ids"]
    assert back["index"] == index
    assert list(back["index"]) == list(ids)  # in order
    assert len(back["rows"]) == CHUNK + 1
    np.testing.assert_array_equal(back["rows"][-1], np.arange(3))
    assert back["small"] == (1, 2)
