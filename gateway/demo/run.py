"""The Kuopio demo: five operators from `kuopio.zip`, demo API keys, copy-paste examples.

`maas demo` and `maas serve --demo` (what `make run` starts) both run it; it is
idempotent, and the demo keys are kept in `data_dir/demo-keys.json` so a
second start prints the same ones. `maas serve --demo` replays the 2016-17
timetable as if it ran now (its dates moved by whole weeks), so that journeys
can be priced and booked today: offers are never made for departures that left.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from aiohttp import web

from gateway import credentials, operator_store
from gateway.appkeys import db_key, demo_banner_key, flows_key, settings_key, timetable_key
from gateway.demo import flows as demo_flows
from gateway.demo.kuopio import KUOPIO_OPERATORS, KUOPIO_TIMEZONE, read_demo_fare_files
from gateway.demo.shift import first_service_date, shift_service_dates
from gtfs.feed.prepare import file_sha256, prepare_split
from gtfs.feed.store import StoredFeed, current_version_ids, store_feed
from sales.conditions import ConditionSet, set_conditions
from sales.fares import store_fares, zip_files
from sales.signing import ensure_signing_key

DEMO_FEED_ENV = "MAAS_DEMO_FEED"
#: The Kuopio demo operators' day ticket: no leg rule prices it; they sell it alone for 24 h.
DEMO_DAY_TICKET = ConditionSet(sold_alone=True, validity_min=24 * 60)
REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_ROLES: tuple[credentials.Role, ...] = ("admin", "maas", "operator", "planner")
DEMO_TENANT = "demo-app"
#: How long start-up waits for the demo timetable (a fresh machine also compiles the planner).
DEMO_BUILD_TIMEOUT_S = 600


def demo_feed_path() -> Path:
    """Return the Kuopio feed: `$MAAS_DEMO_FEED`, else `../shared/data/gtfs/kuopio.zip`."""
    override = os.environ.get(DEMO_FEED_ENV)
    if override:
        return Path(override)
    return REPO_ROOT.parent / "shared" / "data" / "gtfs" / "kuopio.zip"


#: How far into its service period a live demo timetable has run today.
LIVE_WEEKS_IN = 4


def live_feed(source: Path, folder: Path, today: dt.date) -> Path:
    """Return the feed moved by whole weeks so that `today` is some weeks into its service.

    `LIVE_WEEKS_IN` weeks in (the Kuopio timetable is of 2016-17). The copy is written
    to `folder` once per week; a feed already in service is returned as it is.
    """
    first = first_service_date(source)
    if first is None:
        return source
    monday = today - dt.timedelta(days=today.weekday())
    weeks = (monday - first).days // 7 - LIVE_WEEKS_IN
    if weeks <= 0:
        return source
    target = folder / f"{source.stem}-live-{weeks}w.zip"
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        shift_service_dates(source, target, weeks)
    return target


def next_weekday_morning(today: dt.date) -> dt.datetime:
    """Return 08:00 of the next weekday after today, in the demo's time zone."""
    day = today + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(8), ZoneInfo(KUOPIO_TIMEZONE))


async def import_demo(
    pool: asyncpg.Pool, feed: Path, signing_secret: bytes | None = None
) -> dict[str, StoredFeed | None]:
    """Create the five Kuopio operators, import each one's feed and demo fares (idempotent)."""
    for op in KUOPIO_OPERATORS:
        await operator_store.create_operator(pool, op.operator_id, op.name)
        await ensure_signing_key(pool, op.operator_id, signing_secret)
    current = {
        r["operator_id"]: r["sha256"]
        for r in await pool.fetch("SELECT operator_id, sha256 FROM feed_versions WHERE is_current")
    }
    todo = {}
    for op in KUOPIO_OPERATORS:
        sha = await asyncio.to_thread(file_sha256, feed, op.agency_id)
        if current.get(op.operator_id) != sha:
            todo[op.operator_id] = op.agency_id
    result: dict[str, StoredFeed | None] = {op.operator_id: None for op in KUOPIO_OPERATORS}
    if todo:
        for prepared in await asyncio.to_thread(prepare_split, feed, todo):
            result[prepared.operator_id] = await store_feed(pool, prepared)
    for op in KUOPIO_OPERATORS:
        fares = zip_files(read_demo_fare_files(op.operator_id))
        await store_fares(pool, op.operator_id, fares, KUOPIO_TIMEZONE)
        # The day ticket has no leg rule: sold on its own, for 24 hours, because we say so.
        await set_conditions(pool, op.operator_id, "day", DEMO_DAY_TICKET)
    return result


async def ensure_demo_keys(pool: asyncpg.Pool, data_dir: Path) -> dict[str, str]:
    """Return one demo key per role, reusing `demo-keys.json` while its keys still work."""
    path = data_dir / "demo-keys.json"
    saved: dict[str, str] = {}
    if await asyncio.to_thread(path.exists):
        saved = orjson.loads(await asyncio.to_thread(path.read_bytes))
    keys: dict[str, str] = {}
    for role in DEMO_ROLES:
        key = saved.get(role)
        if key is None or await credentials.authenticate(pool, key) is None:
            operator = KUOPIO_OPERATORS[0].operator_id if role == "operator" else None
            tenant = DEMO_TENANT if role == "maas" else None
            key = await credentials.create_key(pool, role, f"demo {role}", operator, tenant)
        keys[role] = key
    if keys != saved:
        await asyncio.to_thread(
            _write_private, path, orjson.dumps(keys, option=orjson.OPT_INDENT_2)
        )
    return keys


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner may read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


@dataclass(frozen=True, slots=True)
class Walkthrough:
    """What the banner's commands need: keys, the gateway's address, files, when to travel."""

    keys: dict[str, str]
    base_url: str
    when: dt.datetime
    keys_file: Path
    feed: Path
    maas_command: str


def demo_banner(walk: Walkthrough, more: tuple[str, ...] = ()) -> str:
    """Return the demo keys and copy-paste commands that work, in order, as printed.

    A command whose answer the next one needs ends in `# NAME: path`: NAME in later
    commands stands for that field of its JSON answer (the tests run them so). The
    `more` lines (the trip flows') come before the ticket's, which end the walkthrough.
    """
    keys, base_url, operator = walk.keys, walk.base_url, KUOPIO_OPERATORS[0]
    stop, to = f"{operator.operator_id}:201804", f"{operator.operator_id}:201666"
    maas = f"Authorization: Bearer {keys['maas']}"
    at = quote(walk.when.isoformat(), safe=":-T")
    local = walk.when.strftime("%Y-%m-%dT%H:%M")
    lines = ["", f"Demo API keys (kept in {_shown(walk.keys_file)}):"]
    lines += [f"  {role:<9} {key}" for role, key in keys.items()]
    lines += [
        "",
        "Try (NAME in a command is the field that an earlier command's comment names):",
        f"  curl {base_url}/v1/operators",
        f"  curl '{base_url}/v1/stops?near=62.8925,27.6780&radius_m=300'",
        f"  curl '{base_url}/v1/stops/{stop}/departures?at={at}'",
        f"  curl -o merged.zip {base_url}/v1/gtfs/merged.zip",
        f"  curl -H 'Authorization: Bearer {keys['admin']}' {base_url}/v1/keys",
        f"  curl -X PUT -H 'Authorization: Bearer {keys['operator']}'"
        f" -H 'Content-Type: application/zip' --data-binary @{_shown(walk.feed)}"
        f" '{base_url}/v1/operators/{operator.operator_id}/feed?agency_id={operator.agency_id}'",
        "",
        *more,
        "Buy a ticket (a journey carries its price; POST its offer_request to make it an offer):",
        f"  curl '{base_url}/v1/journeys?from={stop}&to={to}&depart_at={at}'"
        "  # OFFER_REQUEST: items[0].offer_request",
        f"  curl -H '{maas}' -H 'Content-Type: application/json' -d 'OFFER_REQUEST'"
        f" {base_url}/v1/offers  # OFFER_ID: id",
        f"  curl -H '{maas}' -H 'Idempotency-Key: {uuid.uuid4()}'"
        " -H 'Content-Type: application/json'"
        ' -d \'{"offer_ids": ["OFFER_ID"]}\''
        f" {base_url}/v1/bookings  # BOOKING_ID: id",
        f"  curl -X POST -H '{maas}' {base_url}/v1/bookings/BOOKING_ID/confirm"
        "  # TOKEN: legs[0].ticket.token  VALID_FROM: legs[0].valid_from",
        f"  {walk.maas_command} ticket verify TOKEN --jwks {base_url}/.well-known/jwks.json"
        " --at VALID_FROM",
        "",
        f"Map: {base_url}/map#from=62.8925,27.6780&to=62.8460,27.6420&at={local}",
        f"Docs: {base_url}/docs",
        "",
    ]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    """Return a path as short as it can be said from the working directory."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def maas_command() -> str:
    """Return how to run this `maas` from the working directory (`.venv/bin/maas`)."""
    found = Path(sys.executable).with_name("maas")
    if not found.is_file():
        return shutil.which("maas") or "maas"
    return _shown(found)


async def on_startup(app: web.Application) -> None:
    """Load the demo (first start only does real work) and prepare its banner.

    `maas serve` prints the banner once the gateway listens and the demo timetable is built.
    """
    settings, pool = app[settings_key], app[db_key]
    feed = demo_feed_path()
    today = dt.datetime.now(ZoneInfo(KUOPIO_TIMEZONE)).date()
    live = None
    if await asyncio.to_thread(feed.is_file):
        # Replayed as if it ran now, so journeys can be priced and booked today.
        live = await asyncio.to_thread(live_feed, feed, settings.data_dir / "demo", today)
        await import_demo(pool, live, settings.signing_secret)
    else:
        sys.stderr.write(f"demo feed not found at {feed}; set {DEMO_FEED_ENV}\n")
    keys = await ensure_demo_keys(pool, settings.data_dir)
    # The banner's first commands must not meet a timetable that is still being built.
    store = app[timetable_key]
    store.request_rebuild()
    expected = await current_version_ids(pool)
    await store.wait_for(lambda t: t.version_ids == expected, DEMO_BUILD_TIMEOUT_S)
    walk = Walkthrough(
        keys=keys,
        base_url=f"http://{settings.host}:{settings.port}",
        when=next_weekday_morning(today),
        keys_file=settings.data_dir / "demo-keys.json",
        feed=live if live is not None else feed,
        maas_command=maas_command(),
    )
    release = await demo_flows.ensure_demo_flows(pool, app[flows_key])
    flows_lines = demo_flows.flows_banner(walk.base_url, keys["planner"], release)
    app[demo_banner_key] = demo_banner(walk, (*flows_lines, ""))
