"""Fares validation: every class of error names its file, row (line in the file) and field."""

from __future__ import annotations

import io
import zipfile

import pytest

from operators.fares.csvfiles import MAX_REPORTED_WARNINGS
from operators.fares.loader import load_fares, load_fares_files
from operators.fares.model import FareIssue, FaresValidationError

BASE: dict[str, str] = {
    "agency.txt": "agency_id,agency_name,agency_timezone\nag,Bus Oy,Europe/Helsinki\n",
    "stops.txt": "stop_id,stop_name,parent_station\ns1,One,\ns2,Two,\n",
    "routes.txt": "route_id,route_type\nr1,3\n",
    "calendar.txt": (
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
        "weekdays,1,1,1,1,1,0,0,20260101,20261231\n"
    ),
    "rider_categories.txt": (
        "rider_category_id,rider_category_name,is_default_fare_category\nadult,Adult,1\nchild,Child,0\n"
    ),
    "fare_media.txt": "fare_media_id,fare_media_name,fare_media_type\napp,App,4\n",
    "fare_products.txt": (
        "fare_product_id,rider_category_id,fare_media_id,amount,currency\n"
        "single,adult,app,3.30,EUR\nsingle,child,app,1.65,EUR\ntransfer,,,-1.00,EUR\n"
    ),
    "areas.txt": "area_id,area_name\nA,Zone A\nB,Zone B\n",
    "stop_areas.txt": "area_id,stop_id\nA,s1\nB,s2\n",
    "networks.txt": "network_id,network_name\nbus,Buses\n",
    "route_networks.txt": "network_id,route_id\nbus,r1\n",
    "timeframes.txt": (
        "timeframe_group_id,start_time,end_time,service_id\npeak,07:00:00,09:00:00,weekdays\n"
    ),
    "fare_leg_rules.txt": (
        "leg_group_id,network_id,from_area_id,to_area_id,from_timeframe_group_id,"
        "fare_product_id,rule_priority\ng,bus,A,B,peak,single,1\n"
    ),
    "fare_leg_join_rules.txt": "from_network_id,to_network_id,from_stop_id,to_stop_id\nbus,bus,,\n",
    "fare_transfer_rules.txt": (
        "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,"
        "fare_transfer_type,fare_product_id\ng,g,-1,3600,1,1,transfer\n"
    ),
}


def load(files: dict[str, str]) -> None:
    load_fares_files({name: text.encode() for name, text in files.items()}, "op")


def errors_of(files: dict[str, str]) -> list[FareIssue]:
    with pytest.raises(FaresValidationError) as caught:
        load(files)
    return caught.value.errors


def test_the_base_feed_is_valid_and_has_no_warnings() -> None:
    fares = load_fares_files({n: t.encode() for n, t in BASE.items()}, "op")
    assert fares.warnings == ()
    assert fares.leg_rules[0].from_area_id == "op:A"


CASES: list[tuple[str, str, str, str, tuple[str, int, str]]] = [
    (
        "missing column",
        "fare_products.txt",
        ",currency\n",
        ",curr\n",
        ("fare_products.txt", 1, "currency"),
    ),
    ("empty required value", "areas.txt", "B,Zone B", ",Zone B", ("areas.txt", 3, "area_id")),
    ("duplicate id", "areas.txt", "B,Zone B", "A,Zone B", ("areas.txt", 3, "area_id")),
    (
        "duplicate key",
        "fare_products.txt",
        "child,app,1.65",
        "adult,app,1.65",
        ("fare_products.txt", 3, ""),
    ),
    ("wrong field count", "stop_areas.txt", "B,s2", "B,s2,x", ("stop_areas.txt", 3, "")),
    (
        "unknown area",
        "fare_leg_rules.txt",
        "bus,A,B",
        "bus,Z,B",
        ("fare_leg_rules.txt", 2, "from_area_id"),
    ),
    (
        "unknown network",
        "fare_leg_rules.txt",
        "g,bus,",
        "g,tram,",
        ("fare_leg_rules.txt", 2, "network_id"),
    ),
    (
        "unknown timeframe",
        "fare_leg_rules.txt",
        "peak,single",
        "night,single",
        ("fare_leg_rules.txt", 2, "from_timeframe_group_id"),
    ),
    (
        "unknown product",
        "fare_leg_rules.txt",
        "peak,single",
        "peak,double",
        ("fare_leg_rules.txt", 2, "fare_product_id"),
    ),
    (
        "unknown rider category",
        "fare_products.txt",
        "child,app",
        "kid,app",
        ("fare_products.txt", 3, "rider_category_id"),
    ),
    (
        "unknown fare media",
        "fare_products.txt",
        "child,app",
        "child,card",
        ("fare_products.txt", 3, "fare_media_id"),
    ),
    (
        "unknown leg group",
        "fare_transfer_rules.txt",
        "g,g,-1",
        "g,h,",
        ("fare_transfer_rules.txt", 2, "to_leg_group_id"),
    ),
    ("unknown stop", "stop_areas.txt", "B,s2", "B,s9", ("stop_areas.txt", 3, "stop_id")),
    (
        "unknown route",
        "route_networks.txt",
        "bus,r1",
        "bus,r9",
        ("route_networks.txt", 2, "route_id"),
    ),
    (
        "unknown service",
        "timeframes.txt",
        ",weekdays",
        ",sundays",
        ("timeframes.txt", 2, "service_id"),
    ),
    (
        "unknown join stop",
        "fare_leg_join_rules.txt",
        "bus,bus,,",
        "bus,bus,s1,s7",
        ("fare_leg_join_rules.txt", 2, "to_stop_id"),
    ),
    ("bad enum", "fare_media.txt", "App,4", "App,7", ("fare_media.txt", 2, "fare_media_type")),
    (
        "bad default flag",
        "rider_categories.txt",
        "Child,0",
        "Child,2",
        ("rider_categories.txt", 3, "is_default_fare_category"),
    ),
    (
        "bad integer",
        "fare_leg_rules.txt",
        "single,1",
        "single,high",
        ("fare_leg_rules.txt", 2, "rule_priority"),
    ),
    (
        "negative priority",
        "fare_leg_rules.txt",
        "single,1",
        "single,-1",
        ("fare_leg_rules.txt", 2, "rule_priority"),
    ),
    (
        "bad transfer type",
        "fare_transfer_rules.txt",
        "1,1,transfer",
        "1,3,transfer",
        ("fare_transfer_rules.txt", 2, "fare_transfer_type"),
    ),
    (
        "zero transfer count",
        "fare_transfer_rules.txt",
        "g,g,-1",
        "g,g,0",
        ("fare_transfer_rules.txt", 2, "transfer_count"),
    ),
    ("bad amount", "fare_products.txt", "3.30,EUR", "3;30,EUR", ("fare_products.txt", 2, "amount")),
    (
        "inexact amount",
        "fare_products.txt",
        "3.30,EUR",
        "3.305,EUR",
        ("fare_products.txt", 2, "amount"),
    ),
    (
        "unknown currency",
        "fare_products.txt",
        "3.30,EUR",
        "3.30,EUX",
        ("fare_products.txt", 2, "currency"),
    ),
    (
        "transfer_count required",
        "fare_transfer_rules.txt",
        "g,g,-1",
        "g,g,",
        ("fare_transfer_rules.txt", 2, "transfer_count"),
    ),
    (
        "transfer_count forbidden",
        "fare_transfer_rules.txt",
        "g,g,-1",
        "g,,-1",
        ("fare_transfer_rules.txt", 2, "transfer_count"),
    ),
    (
        "duration_limit_type required",
        "fare_transfer_rules.txt",
        "3600,1,1",
        "3600,,1",
        ("fare_transfer_rules.txt", 2, "duration_limit_type"),
    ),
    (
        "duration_limit_type forbidden",
        "fare_transfer_rules.txt",
        "3600,1,1",
        ",1,1",
        ("fare_transfer_rules.txt", 2, "duration_limit_type"),
    ),
    (
        "bad duration",
        "fare_transfer_rules.txt",
        "3600,1,1",
        "-5,1,1",
        ("fare_transfer_rules.txt", 2, "duration_limit"),
    ),
    (
        "start without end",
        "timeframes.txt",
        "07:00:00,09:00:00",
        "07:00:00,",
        ("timeframes.txt", 2, "end_time"),
    ),
    (
        "time past 24h",
        "timeframes.txt",
        "09:00:00,weekdays",
        "25:00:00,weekdays",
        ("timeframes.txt", 2, "end_time"),
    ),
    (
        "end before start",
        "timeframes.txt",
        "07:00:00,09:00:00",
        "09:00:00,07:00:00",
        ("timeframes.txt", 2, "end_time"),
    ),
    (
        "two defaults",
        "rider_categories.txt",
        "Child,0",
        "Child,1",
        ("fare_products.txt", 2, "rider_category_id"),
    ),
    (
        "join stops go together",
        "fare_leg_join_rules.txt",
        "bus,bus,,",
        "bus,bus,s1,",
        ("fare_leg_join_rules.txt", 2, "to_stop_id"),
    ),
    (
        "networks twice",
        "routes.txt",
        "route_type\nr1,3",
        "route_type,network_id\nr1,3,bus",
        ("networks.txt", 0, ""),
    ),
    (
        "bad time zone",
        "agency.txt",
        "Europe/Helsinki",
        "Europe/Kuopio",
        ("agency.txt", 0, "agency_timezone"),
    ),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_error_names_file_row_and_field(
    file: str, old: str, new: str, expected: tuple[str, int, str]
) -> None:
    assert old in BASE[file]
    files = {**BASE, file: BASE[file].replace(old, new)}
    found = [(e.file, e.row, e.field) for e in errors_of(files)]
    assert expected in found


def test_overlapping_timeframes_of_one_group_and_service() -> None:
    frames = BASE["timeframes.txt"] + "peak,08:30:00,10:00:00,weekdays\n"
    found = [(e.file, e.row, e.field) for e in errors_of({**BASE, "timeframes.txt": frames})]
    assert found == [("timeframes.txt", 3, "start_time")]


def test_timeframes_without_a_time_zone_are_refused() -> None:
    files = {k: v for k, v in BASE.items() if k != "agency.txt"}
    assert [(e.file, e.row) for e in errors_of(files)] == [("timeframes.txt", 0)]


def test_only_the_first_hundred_errors_are_kept_with_the_total() -> None:
    rows = "".join(f"Z{i},s1\n" for i in range(150))
    with pytest.raises(FaresValidationError) as caught:
        load({**BASE, "stop_areas.txt": "area_id,stop_id\n" + rows})
    assert caught.value.total == 150
    assert len(caught.value.errors) == 100
    assert caught.value.errors[0] == FareIssue(
        "stop_areas.txt", 2, "area_id", "'Z0' is not defined in areas.txt"
    )


def test_warnings_are_kept_with_the_feed() -> None:
    files = {k: v for k, v in BASE.items() if k not in ("stops.txt", "routes.txt")}
    products = BASE["fare_products.txt"].replace("3.30,EUR", "3.3,EUR")
    areas = "area_id,area_name,colour\nA,Zone A,red\nB,Zone B,blue\n"
    changed = {**files, "fare_products.txt": products, "areas.txt": areas}
    fares = load_fares_files({n: t.encode() for n, t in changed.items()}, "op")
    assert {(w.file, w.row, w.field) for w in fares.warnings} == {
        ("areas.txt", 1, "colour"),
        ("fare_products.txt", 2, "amount"),
        ("stop_areas.txt", 0, ""),
        ("fare_leg_join_rules.txt", 0, ""),
        ("route_networks.txt", 0, ""),
    }


def test_a_zip_with_the_files_loads_and_a_non_zip_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in BASE.items():
            archive.writestr(name, text)
    assert load_fares(buffer.getvalue(), "op").operator_id == "op"
    with pytest.raises(FaresValidationError) as caught:
        load_fares(b"not a zip", "op")
    assert caught.value.errors == [FareIssue("", 0, "", "not a zip file")]


def test_unreadable_files_are_reported() -> None:
    files = {"areas.txt": b"area_id\n\xff\xfe\n", "networks.txt": b""}
    with pytest.raises(FaresValidationError) as caught:
        load_fares_files(files, "op")
    assert [(e.file, e.row, e.message) for e in caught.value.errors] == [
        ("areas.txt", 0, "file is not UTF-8"),
        ("networks.txt", 0, "file is empty (no header line)"),
    ]


def test_the_exception_reports_errors_as_api_dicts() -> None:
    files = {**BASE, "areas.txt": "area_id\nA\nA\n"}
    with pytest.raises(FaresValidationError) as caught:
        load(files)
    assert caught.value.errors[0].as_dict() == {
        "file": "areas.txt",
        "row": 3,
        "field": "area_id",
        "message": "duplicate id, first on line 2",
    }


def test_only_the_first_warnings_are_kept_and_all_are_counted() -> None:
    rows = "".join(f"p{i},,,1.5,EUR\n" for i in range(MAX_REPORTED_WARNINGS + 50))
    products = BASE["fare_products.txt"] + rows
    fares = load_fares_files(
        {n: t.encode() for n, t in (BASE | {"fare_products.txt": products}).items()}, "op"
    )
    assert len(fares.warnings) == MAX_REPORTED_WARNINGS
    assert fares.warnings[0].row == 5  # the first of the new rows: lines 2-4 are BASE's
    assert fares.warning_total == MAX_REPORTED_WARNINGS + 50
