"""The `maas` command's entry point.

`maas ticket verify` runs on an inspector's laptop, often many times in a row:
it goes straight to its own small module instead of loading the gateway (the
planner, pandas and numba take seconds to import). `maas import-gtfs` goes to
its own module too: the rest of the gateway is memory its import does not need.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run a `maas` command."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:2] == ["ticket", "verify"]:
        from gateway.cli import verify

        return verify.main(args[2:])
    if args[:1] == ["import-gtfs"]:
        from gateway.cli import import_gtfs

        return import_gtfs.main(args)
    from gateway.cli import main as full

    return full.main(args)


if __name__ == "__main__":
    sys.exit(main())
