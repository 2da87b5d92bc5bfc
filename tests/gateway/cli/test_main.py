import os
import subprocess
import sys

import pytest

from gateway.cli import main as cli
from gateway.settings import SettingsError, load_settings


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("MAAS_DATABASE_URL", database_url)
    monkeypatch.setenv("MAAS_LOG_JSON", "false")


@pytest.mark.usefixtures("cli_env")
def test_keys_create_list_revoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "create", "--role", "planner", "--name", "City of Kuopio"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("mk_planner_")
    prefix = key[: len("mk_planner_") + 8]
    assert cli.main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert prefix in listing
    assert key not in listing
    assert cli.main(["keys", "revoke", prefix]) == 0
    assert cli.main(["keys", "revoke", prefix]) == 1
    assert "no active key" in capsys.readouterr().err


@pytest.mark.usefixtures("cli_env")
def test_operator_key_needs_an_existing_operator(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "create", "--role", "operator", "--name", "x"]) == 2
    assert "--operator" in capsys.readouterr().err
    args = ["keys", "create", "--role", "operator", "--name", "x", "--operator", "nope"]
    assert cli.main(args) == 2
    assert "no operator 'nope'" in capsys.readouterr().err


@pytest.mark.usefixtures("cli_env")
def test_migrate_reports_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAS_PORT", "eighty")
    with pytest.raises(SettingsError, match="MAAS_PORT"):
        load_settings()


def test_a_bad_secret_is_named_but_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAS_SIGNING_KEY_SECRET", "too-short-1")
    with pytest.raises(SettingsError, match="MAAS_SIGNING_KEY_SECRET") as info:
        load_settings()
    assert "too-short-1" not in str(info.value)
    monkeypatch.setenv("MAAS_SIGNING_KEY_SECRET", "")  # empty: unset, keys stay in clear
    assert load_settings().signing_secret is None


def test_cli_exits_2_on_bad_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAAS_RATE_LIMIT_WINDOW_S", "0")
    assert cli.main(["keys", "list"]) == 2
    assert "MAAS_RATE_LIMIT_WINDOW_S" in capsys.readouterr().err


def test_serve_freezes_what_the_imports_left_before_serving(database_url: str) -> None:
    # A full collection walking every module's objects held the GIL for ~0.2 s, a stall
    # of every request in flight: `maas serve` moves them out of the collector's sight.
    probe = (
        "import gc, sys\n"
        "from aiohttp import web\n"
        "from gateway.cli import main as cli\n"
        "web.run_app = lambda app, **kw: print('frozen', gc.get_freeze_count(), flush=True)\n"
        "sys.exit(cli.main(['serve']))\n"
    )
    env = {**os.environ, "MAAS_DATABASE_URL": database_url, "MAAS_LOG_JSON": "false"}
    done = subprocess.run(  # noqa: S603  (our own interpreter and script)
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    frozen = int(done.stdout.split("frozen ")[1].split()[0])
    assert frozen > 10_000, done.stdout
