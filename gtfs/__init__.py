"""GTFS: reading, validating, storing and compiling timetables.

pandas 3 imports pyarrow whenever it is installed (it is, for the trip flows' Parquet
downloads) and then backs its `str` dtype with it. For GTFS tables that costs memory and
time: importing vilnius.zip peaked at 340 MiB in 5.8 s with pyarrow strings and 282 MiB
in 3.9 s with Python ones (2026-12-03), and pyarrow's import alone is about 34 MiB more
in every process that reads a feed. Nothing here wants pandas to use pyarrow, so pandas
is imported with pyarrow hidden (an entry of None in `sys.modules` makes its import
fail) and takes it for absent; whoever needs pyarrow itself (the Parquet writer of
`flows/exports.py`) imports it later as usual. Every reader of GTFS tables comes through
this package, so the choice is made once, here, before any table exists; a process that
imported pandas before (with pyarrow) still gets Python strings.
"""

import sys

if "pandas" not in sys.modules and "pyarrow" not in sys.modules:
    sys.modules["pyarrow"] = None  # type: ignore[assignment]
    try:
        import pandas as pd
    finally:
        del sys.modules["pyarrow"]

import pandas as pd

pd.set_option("mode.string_storage", "python")
