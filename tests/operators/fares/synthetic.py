"""A synthetic fares zip of any size: stops, each in one of a few areas, priced area to area.

Big in rows (stops.txt and stop_areas.txt, one row per stop each), small in everything
else: what a national stop_areas.txt looks like to the loader.
"""

from __future__ import annotations

import io
import zipfile

AREAS = 20


def synthetic_fares_files(stops: int, *, bad_area_row: int | None = None) -> dict[str, bytes]:
    """Return the files; `bad_area_row` (a line of stop_areas.txt) names an undefined area."""
    areas = [f"Z{i:02d}" for i in range(AREAS)]
    stop_ids = [f"S{i:07d}" for i in range(stops)]
    stop_rows = "".join(
        f"{s},Stop {s},{60 + i / stops:.6f},{24 + i / stops:.6f}\n" for i, s in enumerate(stop_ids)
    )
    area_rows = [f"{areas[i % AREAS]},{s}\n" for i, s in enumerate(stop_ids)]
    if bad_area_row is not None:
        area_rows[bad_area_row - 2] = f"NOPE,{stop_ids[bad_area_row - 2]}\n"
    rules = "".join(f"{a},{b},single\n" for a in areas for b in areas)
    return {
        "stops.txt": ("stop_id,stop_name,stop_lat,stop_lon\n" + stop_rows).encode(),
        "areas.txt": ("area_id,area_name\n" + "".join(f"{a},Area {a}\n" for a in areas)).encode(),
        "stop_areas.txt": ("area_id,stop_id\n" + "".join(area_rows)).encode(),
        "fare_products.txt": b"fare_product_id,fare_product_name,amount,currency\n"
        b"single,Single ticket,3.50,EUR\n",
        "fare_leg_rules.txt": ("from_area_id,to_area_id,fare_product_id\n" + rules).encode(),
    }


def synthetic_fares_zip(stops: int, *, bad_area_row: int | None = None) -> bytes:
    """Return the files of `synthetic_fares_files` as a deflated zip."""
    return zip_of(synthetic_fares_files(stops, bad_area_row=bad_area_row))


def zip_of(files: dict[str, bytes]) -> bytes:
    """Return files as a deflated zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()
