"""The README's exit-code table is the code's: every status a command can end with is listed
once, with the class or constant that produces it, and the CLI really exits with it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import classifiers.errors
import scanner.errors
from scanner.cli import base

README = Path(__file__).resolve().parents[1] / "README.md"


def _table() -> dict[int, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", section, re.M)
    return {int(code): what for code, what in rows}


def _code_statuses() -> set[int]:
    codes = {base.EXIT_OK, base.EXIT_DIFFERENCES, base.EXIT_USAGE, base.EXIT_INTERRUPTED}
    for module in (classifiers.errors, scanner.errors):
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, classifiers.errors.ScannerError):
                codes.add(obj.exit_code)
    return codes


def test_readme_lists_exactly_the_statuses_the_code_uses() -> None:
    assert set(_table()) == _code_statuses()


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanner", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_usage_errors_and_config_errors_have_different_statuses(tmp_path: Path) -> None:
    usage = _run("scan", "--no-such-option", cwd=tmp_path)
    assert usage.returncode == base.EXIT_USAGE == 64
    assert "No such option" in usage.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[eutils]\nmax_attempts = -1\n")
    config = _run("--config", str(bad), "status", cwd=tmp_path)
    assert config.returncode == scanner.errors.ConfigError.exit_code == 2
    assert config.stderr.count("\n") == 1 and config.stderr.startswith("scanner: error: ")
