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
