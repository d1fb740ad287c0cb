from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.config import ENV_OVERRIDES, Settings, load_settings
from scanner.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_shipped_config_is_the_defaults() -> None:
    shipped = load_settings(REPO / "config.toml", environ={})
    defaults = Settings(root=REPO)
    assert shipped.model_dump() == defaults.model_dump()


def test_every_setting_is_in_the_shipped_config_and_readme() -> None:
    text = (REPO / "config.toml").read_text()
    for section, model in Settings.model_fields.items():
        if section == "root":
            continue
        assert f"[{section}]" in text
        for key in model.annotation.model_fields:  # type: ignore[union-attr]
            if key == "api_key":
                continue
            assert key in text, f"{section}.{key} is not documented in config.toml"
    readme = (REPO / "README.md").read_text()
    for var in ENV_OVERRIDES:
        assert var in readme, f"{var} is not documented in the README"


def test_environment_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///x.sqlite"\n')
    s = load_settings(path, environ={
        "SCANNER_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "SCANNER_EUTILS_URL": "http://127.0.0.1:9/eutils",
        "NCBI_API_KEY": "sekrit-key-123",
        "NCBI_EMAIL": "curators@example.org",
        "SCANNER_SCAN_START": "2024-02-29",
    })
    assert s.database_url == "postgresql+psycopg://u@h/db"
    assert s.eutils.base_url == "http://127.0.0.1:9/eutils/"
    assert s.eutils.email == "curators@example.org"
    assert s.scan.start == dt.date(2024, 2, 29)
    assert s.eutils.effective_rate == 10.0
    assert "sekrit-key-123" not in repr(s) and "sekrit-key-123" not in str(s.model_dump())


def test_relative_sqlite_path_resolves_against_config_dir(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[database]\nurl = "sqlite:///var/s.sqlite"\n'), environ={})
    assert s.database_url == f"sqlite:///{tmp_path / 'var' / 's.sqlite'}"
    assert s.policy_dir == REPO / "policies"  # unset: the shipped (checkout) policies


@pytest.mark.parametrize(("text", "env", "key"), [
    ("[eutils]\nbatch_size = 0\n", {}, "eutils.batch_size"),
    ("[eutils]\nbatch_size = 'many'\n", {}, "eutils.batch_size"),
    ("[eutils]\ntool = 'my tool'\n", {}, "eutils.tool"),
    ("[eutils]\nbase_url = 'ftp://x'\n", {}, "eutils.base_url"),
    ("[scan]\nlookback_dayz = 3\n", {}, "scan.lookback_dayz"),
    ("", {"SCANNER_SCAN_START": "yesterday"}, "scan.start"),
    ("[eutils]\nrequests_per_second = 5\n", {}, "eutils.requests_per_second"),
    ("[eutils]\nrequests_per_second = 0\n", {}, "eutils.requests_per_second"),
])
def test_bad_config_names_the_key(tmp_path: Path, text: str, env: dict[str, str],
                                  key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), environ=env)
    assert info.value.key == key
    message = str(info.value)
    assert key in message and "\n" not in message
    if env:
        assert "SCANNER_SCAN_START" in message


def test_rate_limit_may_be_lifted_for_a_local_server(tmp_path: Path) -> None:
    path = write(tmp_path, "[eutils]\nrequests_per_second = 0\n")
    s = load_settings(path, environ={"SCANNER_EUTILS_URL": "http://127.0.0.1:8000/"})
    assert s.eutils.effective_rate == 0


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config\.toml"):
        load_settings(write(tmp_path, "[eutils\n"), environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_cli_reports_a_bad_config_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[eutils]\nmax_attempts = -1\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "status", "--json"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["scanner: error: invalid config: eutils.max_attempts: "
                     "Input should be greater than or equal to 1"]


def test_a_renamed_setting_names_its_new_key(tmp_path: Path) -> None:
    """The weekly re-fetch is "recheck" everywhere ("sweep" is the Dask command)."""
    path = write(tmp_path, '[schedule]\nsweep_cron = "0 8 * * 0"\n')
    with pytest.raises(ConfigError, match=r"schedule\.sweep_cron: unknown setting "
                                          r"\(renamed schedule\.recheck_cron\)"):
        load_settings(path)
