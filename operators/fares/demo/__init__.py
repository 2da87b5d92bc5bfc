"""Demo fares: Vilkku-style zone fares for the five operators of the Kuopio demo feed."""

from __future__ import annotations

from importlib import resources

from gtfs.tables import GtfsTables
from operators.fares.csvfiles import FARE_FILES
from operators.fares.loader import load_fares_files
from operators.fares.model import FareFeed

#: Operator id of each agency_id in the Kuopio feed (`/work/shared/data/gtfs/kuopio.zip`).
KUOPIO_OPERATORS: dict[str, str] = {
    "44517": "kuopion-liikenne",
    "6791": "linja-karjala",
    "6717": "jaaskelaisen-auto",
    "6778": "e-ahonen",
    "6852": "pohjolan-liikenne",
}
KUOPIO_TIMEZONE = "Europe/Helsinki"


def list_demo_operator_ids() -> tuple[str, ...]:
    """Return the operator ids that have demo fares."""
    return tuple(KUOPIO_OPERATORS.values())


def read_demo_fare_files(operator_id: str) -> dict[str, bytes]:
    """Return the demo Fares v2 files of an operator by file name (KeyError if it has none)."""
    if operator_id not in KUOPIO_OPERATORS.values():
        raise KeyError(f"no demo fares for operator {operator_id!r}")
    folder = resources.files(__package__).joinpath("kuopio", operator_id)
    return {
        name: folder.joinpath(name).read_bytes()
        for name in FARE_FILES
        if folder.joinpath(name).is_file()
    }


def get_demo_fares(operator_id: str, timetable: GtfsTables | None = None) -> FareFeed:
    """Return the demo fares of a Kuopio operator, checked against its timetable when given."""
    files = read_demo_fare_files(operator_id)
    return load_fares_files(files, operator_id, timetable=timetable, timezone=KUOPIO_TIMEZONE)
