"""The Kuopio demo's data: its five operators and their Vilkku-style zone fares (in `fares/`)."""

from __future__ import annotations

from importlib import resources

from gtfs.feed.split import AgencyOperator
from gtfs.tables import GtfsTables
from operators.fares.csvfiles import FARE_FILES
from operators.fares.loader import load_fares_files
from operators.fares.model import FareFeed

#: `../shared/data/gtfs/kuopio.zip` holds five agencies, each imported as its own operator.
#: These ids are fixed; the fares data uses them too.
KUOPIO_OPERATORS: tuple[AgencyOperator, ...] = (
    AgencyOperator("44517", "kuopion-liikenne", "Kuopion Liikenne Oy"),
    AgencyOperator("6791", "linja-karjala", "Linja-Karjala Oy"),
    AgencyOperator("6717", "jaaskelaisen-auto", "Jääskeläisen Auto Oy"),
    AgencyOperator("6778", "e-ahonen", "E. Ahonen Ky"),
    AgencyOperator("6852", "pohjolan-liikenne", "Pohjolan Liikenne Oy"),
)
KUOPIO_TIMEZONE = "Europe/Helsinki"


def list_demo_operator_ids() -> tuple[str, ...]:
    """Return the operator ids that have demo fares."""
    return tuple(op.operator_id for op in KUOPIO_OPERATORS)


def read_demo_fare_files(operator_id: str) -> dict[str, bytes]:
    """Return the demo Fares v2 files of an operator by file name (KeyError if it has none)."""
    if operator_id not in list_demo_operator_ids():
        raise KeyError(f"no demo fares for operator {operator_id!r}")
    folder = resources.files(__package__).joinpath("fares", operator_id)
    return {
        name: folder.joinpath(name).read_bytes()
        for name in FARE_FILES
        if folder.joinpath(name).is_file()
    }


def get_demo_fares(operator_id: str, timetable: GtfsTables | None = None) -> FareFeed:
    """Return the demo fares of a Kuopio operator, checked against its timetable when given."""
    files = read_demo_fare_files(operator_id)
    return load_fares_files(files, operator_id, timetable=timetable, timezone=KUOPIO_TIMEZONE)
