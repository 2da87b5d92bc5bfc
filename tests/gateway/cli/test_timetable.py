"""`maas operators create`, `maas import-gtfs` and `maas demo` against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main as cli
from tests.timetable_data import gtfs_path, rewrite_zip


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("MAAS_DATABASE_URL", database_url)
    monkeypatch.setenv("MAAS_LOG_JSON", "false")
    monkeypatch.setenv("MAAS_LOG_LEVEL", "WARNING")


@pytest.mark.usefixtures("cli_env")
def test_create_operator_then_import_its_feed_twice(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["operators", "create", "--id", "cli-hsl", "--name", "HSL test"]) == 0
    assert cli.main(["operators", "create", "--id", "cli-hsl", "--name", "Again"]) == 1
    feed = str(gtfs_path(shared_data, "hsl-minimal.zip"))
    assert cli.main(["import-gtfs", "--operator", "cli-hsl", feed]) == 0
    first = capsys.readouterr()
    assert "cli-hsl: imported as version" in first.out
    assert "stop_times 15" in first.out
    assert "service from 2019-03-05 to 2019-04-18" in first.out
    assert "warning: the service ended on 2019-04-18" in first.out
    assert "store" in first.err  # the progress bar's last step
    assert cli.main(["import-gtfs", "--operator", "cli-hsl", feed]) == 0
    assert "unchanged: already current" in capsys.readouterr().out


@pytest.mark.usefixtures("cli_env")
def test_import_of_a_broken_feed_lists_its_errors(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["operators", "create", "--id", "cli-broken", "--name", "Broken"]) == 0
    broken = rewrite_zip(
        gtfs_path(shared_data, "hsl-minimal.zip"), tmp_path / "b.zip", {"trips.txt": None}
    )
    assert cli.main(["import-gtfs", "--operator", "cli-broken", str(broken)]) == 1
    assert "trips.txt:- -: required file is missing" in capsys.readouterr().err


@pytest.mark.usefixtures("cli_env")
def test_import_needs_an_existing_operator(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = str(gtfs_path(shared_data, "hsl-minimal.zip"))
    assert cli.main(["import-gtfs", "--operator", "cli-nobody", feed]) == 1
    assert "create it first" in capsys.readouterr().err


@pytest.mark.usefixtures("cli_env", "kuopio_demo")
def test_demo_is_idempotent(kuopio_zip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--feed", str(kuopio_zip)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{op}: unchanged"
        for op in (
            "kuopion-liikenne",
            "linja-karjala",
            "jaaskelaisen-auto",
            "e-ahonen",
            "pohjolan-liikenne",
        )
    ]


#: Modules a process that only imports a feed must not load: pyarrow (about 34 MiB, which
#: pandas imports whenever it is installed) and the serving gateway (about 30 MiB more).
HEAVY = ("pyarrow", "gateway.resources", "gateway.app", "aiohttp.web")


@pytest.mark.usefixtures("cli_env")
def test_import_gtfs_runs_without_pyarrow_or_the_serving_gateway(shared_data: Path) -> None:
    # vilnius.zip peaked above 300 MB with them loaded (issue 17).
    assert cli.main(["operators", "create", "--id", "cli-light", "--name", "Light"]) == 0
    feed = str(gtfs_path(shared_data, "hsl-minimal.zip"))
    code = (
        "import sys; from gateway.cli.entry import main;"
        f" rc = main(['import-gtfs', '--operator', 'cli-light', {feed!r}]);"
        f" print(rc, [m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr
    assert "cli-light: imported as version" in done.stdout
