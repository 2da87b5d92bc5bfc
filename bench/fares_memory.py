"""Fares load benchmark: peak memory and time of `load_fares` on real and synthetic zips.

Each measurement runs in a fresh process (so one load's peak cannot hide another's):
one load timed and its peak RSS taken (VmHWM), then one load under tracemalloc for the
peak of Python allocations. Inputs are zips given on the command line (paths relative to
the repository) and, with `--synthetic-stops N`, a synthetic zip of N stops in stops.txt
and stop_areas.txt (tests/operators/fares/synthetic.py). With `--baseline DIR` (a tree
holding `operators/` and `gtfs/` of another commit, e.g. `git archive REV operators gtfs |
tar -x -C DIR`), each measurement of this tree is interleaved with the same one of that
tree: the reference, in the same run. Prints medians; never asserts anything.

    .venv/bin/python bench/fares_memory.py ../shared/data/gtfs/transcollines-fares-v2.zip \\
        --synthetic-stops 95000 --baseline /tmp/fares-before --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Run in the child: load once for time and RSS, once under tracemalloc for the peak.
_CHILD = """
import json, sys, time, tracemalloc
from pathlib import Path
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from operators.fares.loader import load_fares

def rss_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0

data = Path(sys.argv[3]).read_bytes()
before = rss_kib("VmRSS")
start = time.perf_counter()
feed = load_fares(data, "op")
elapsed = time.perf_counter() - start
hwm = rss_kib("VmHWM")
stops = len(feed.stop_areas)
del feed
tracemalloc.start()
load_fares(data, "op")
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"s": elapsed, "rss_mib": (hwm - before) / 1024, "peak_mib": peak / 2**20,
                  "stops_in_areas": stops}))
"""


def _measure(tree: Path, zip_path: Path) -> dict[str, float]:
    out = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _CHILD, str(tree), str(ROOT), str(zip_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _inputs(args: argparse.Namespace, scratch: Path) -> list[tuple[str, Path]]:
    inputs = [(str(p), ROOT / p) for p in args.zips]
    if args.synthetic_stops:
        sys.path.insert(0, str(ROOT))
        from tests.operators.fares.synthetic import synthetic_fares_zip

        path = scratch / "synthetic.zip"
        path.write_bytes(synthetic_fares_zip(args.synthetic_stops))
        inputs.append((f"synthetic, {args.synthetic_stops} stops", path))
    return inputs


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zips", nargs="*", type=Path, help="fares zips, relative to the repo")
    parser.add_argument("--synthetic-stops", type=int, default=0)
    parser.add_argument("--baseline", type=Path, help="a tree of another commit to compare")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    trees = [("this tree", ROOT)] + ([("baseline", args.baseline)] if args.baseline else [])
    with tempfile.TemporaryDirectory() as scratch:
        inputs = _inputs(args, Path(scratch))
        runs: dict[tuple[str, str], list[dict[str, float]]] = {}
        for _ in range(args.repeat):
            for label, path in inputs:
                for tree_label, tree in trees:
                    runs.setdefault((label, tree_label), []).append(_measure(tree, path))
        print(f"{'input':<40} {'code':<10} {'load s':>8} {'RSS MiB':>8} {'peak MiB':>9}")
        for (label, tree_label), results in runs.items():
            med = {k: statistics.median(r[k] for r in results) for k in results[0]}
            print(
                f"{label:<40} {tree_label:<10} {med['s']:>8.2f} {med['rss_mib']:>8.1f}"
                f" {med['peak_mib']:>9.1f}"
            )


if __name__ == "__main__":
    main()
