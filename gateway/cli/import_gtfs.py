"""`maas import-gtfs`: validate a GTFS zip and store it as an operator's current feed.

It runs from its own small module (`gateway/cli/entry.py` comes straight here) so that
its process loads what importing a feed needs and not the whole gateway: with the rest
of `maas` loaded, importing vilnius.zip peaked above 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from tqdm import tqdm

from gateway import operator_store
from gateway.cli.db import database
from gateway.logs import configure_logging
from gateway.settings import Settings, SettingsError, load_settings
from gtfs.feed.prepare import prepare_feed
from gtfs.feed.service_period import service_warnings
from gtfs.feed.store import store_feed
from gtfs.feed.validate.archive import FeedInvalid


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


async def cmd_import_gtfs(settings: Settings, args: argparse.Namespace) -> int:
    """Validate and import a GTFS zip as an operator's current feed."""
    async with database(settings) as pool:
        operator = await operator_store.find_operator(pool, args.operator)
        if operator is None:
            sys.stderr.write(f"no operator {args.operator!r}: create it first\n")
            return 1
        with tqdm(total=4, unit="step", file=sys.stderr) as bar:

            def step(name: str) -> None:
                bar.update(0 if bar.desc == "" else 1)
                bar.set_description(name)

            try:
                prepared = await asyncio.to_thread(
                    prepare_feed, Path(args.file), args.operator, args.agency, progress=step
                )
            except FeedInvalid as exc:
                bar.close()
                _print_errors(exc)
                return 1
            step("store")

            def stored_rows(table: str, rows: int, total: int) -> None:
                bar.set_postfix_str(f"{table} {rows}/{total}")

            stored = await store_feed(pool, prepared, stored_rows)
            bar.update()
    counts = ", ".join(f"{k} {v}" for k, v in prepared.counts().items() if v)
    state = "imported as version" if stored.changed else "unchanged: already current as version"
    _say(f"{args.operator}: {state} {stored.version_id} ({counts})")
    _say(
        f"{prepared.interpolated_rows} stop times interpolated; {prepared.warning_total} warning(s)"
    )
    _say_service(list(prepared.service_dates), operator.timezone)
    return 0


def _say_service(dates: list[dt.date], timezone: str) -> None:
    """Print a feed's service period and what is wrong with it as of today."""
    if dates:
        _say(f"service from {dates[0].isoformat()} to {dates[-1].isoformat()}")
    today = dt.datetime.now(ZoneInfo(timezone)).date()
    for warning in service_warnings(dates, today):
        _say(f"warning: {warning.message}")


def _print_errors(exc: FeedInvalid) -> None:
    """List a feed's errors on stderr, one per line."""
    sys.stderr.write(f"the feed is not valid: {exc.total} error(s)\n")
    for e in exc.errors:
        sys.stderr.write(f"  {e.file}:{e.row or '-'} {e.field or '-'}: {e.message}\n")


def add_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `import-gtfs` to a `maas` parser."""
    imp = sub.add_parser("import-gtfs", help="import a GTFS zip as an operator's feed")
    imp.add_argument("--operator", required=True)
    imp.add_argument("--agency", help="import only this agency_id of the feed")
    imp.add_argument("file")
    imp.set_defaults(run=cmd_import_gtfs)


def main(argv: list[str]) -> int:
    """Run `maas import-gtfs` (argv starts with the command's name)."""
    parser = argparse.ArgumentParser(prog="maas")
    add_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    configure_logging(settings.log_level, settings.log_json)
    return asyncio.run(cmd_import_gtfs(settings, args))
