"""Install-safe packaging: the wheel carries the policies and data, and runs outside a checkout.

The slow test builds the wheel from a copy of the working tree, installs it (without
dependencies) into a fresh virtual environment whose dependencies come from this
interpreter's site-packages through a ``.pth`` file, and runs ``scanner demo --no-serve``
in an empty directory with no config file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import scanner
from scanner.cli import cli
from scanner.config import Settings, load_settings
from scanner.resources import (
    checkout_root,
    default_label_files,
    demo_records,
    shipped_path,
)
from tests.conftest import REPO

#: Top-level folders of the checkout that the wheel build does not need (a stale build/
#: would leak old modules into the wheel), and caches anywhere.
_NOT_BUILT = {".git", ".venv", "build", "dist", "var", "artifacts", "tests", "benchmarks"}
_CACHES = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
#: pip's own notices under -v that say nothing about the project (this machine's index
#: configuration, distutils' byte-compile notice).
_PIP_NOISE = re.compile(r"Location '.*' is ignored|byte-compiling is disabled")


def _ignore(directory: str, names: list[str]) -> set[str]:
    top = Path(directory) == REPO
    return {n for n in names if (top and n in _NOT_BUILT) or n in _CACHES
            or n.endswith(".egg-info")}


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=280,
                          **kw)  # type: ignore[call-overload]


def _dependency_dirs() -> list[str]:
    """Where this interpreter finds its dependencies: its purelib (a full environment,
    as in CI) and any other site-packages on its path (a light venv sharing them)."""
    dirs = [sysconfig.get_paths()["purelib"]]
    dirs += [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    return list(dict.fromkeys(str(Path(d).resolve()) for d in dirs if Path(d).is_dir()))


def _clean_env() -> dict[str, str]:
    drop = ("SCANNER_", "NCBI_", "PYTHONPATH", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


# -- from a checkout -----------------------------------------------------------------------
def test_checkout_finds_the_repository_folders() -> None:
    assert checkout_root() == REPO
    assert shipped_path("policies") == REPO / "policies"
    assert demo_records() == REPO / "data" / "demo" / "pubmed_demo.xml"
    assert default_label_files(demo=True) == [REPO / "data" / "labels" / "dev.csv",
                                              REPO / "data" / "demo" / "labels.csv"]
    with pytest.raises(ValueError, match="not a shipped folder"):
        shipped_path("scanner")


def test_unset_policy_dir_is_the_shipped_policies(tmp_path: Path) -> None:
    assert Settings(root=tmp_path).policy_dir == REPO / "policies"
    (tmp_path / "config.toml").write_text('[policy]\ndir = "mine"\n')
    assert load_settings(tmp_path / "config.toml", environ={}).policy_dir == tmp_path / "mine"


def test_one_version_string() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert scanner.__version__ == meta["project"]["version"]
    assert meta["project"]["license"] == "MIT"
    literal = re.compile(r"__version__\s*=\s*['\"]\d+\.\d+")
    copies = [str(p) for top in ("scanner", "classifiers") for p in (REPO / top).rglob("*.py")
              if literal.search(p.read_text())]
    assert copies == [], f"a second version string in {copies}"
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and scanner.__version__ in result.output


def test_dask_commands_name_the_extra_when_it_is_missing(tmp_path: Path) -> None:
    """Without Dask installed, `scanner sweep` stops with one line naming the extra."""
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('dask', 'distributed'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from scanner.cli import main\n"
        "sys.argv = ['scanner', 'sweep', 'x.xml', '--output', 'out']\n"
        "main()\n")
    done = _run([sys.executable, "-c", blocker], cwd=tmp_path,
                env={**_clean_env(), "PYTHONPATH": str(REPO)})
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        "scanner: error: this command runs on Dask and needs the [dask] extra (dask is not "
        "installed): pip install 'mecfs-scanner[dask]'"]


# -- from the wheel ------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(600)  # a wheel build with build isolation, a venv, the demo
def test_wheel_installs_and_runs_the_demo_outside_the_checkout(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=_ignore)
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(dist),
                  str(src)])
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    warnings = [line for line in (built.stdout + built.stderr).splitlines()
                if "warn" in line.lower() and not _PIP_NOISE.search(line)]
    assert warnings == [], "the build warns:\n" + "\n".join(warnings)
    (wheel,) = dist.glob("mecfs_scanner-*.whl")
    assert wheel.name.startswith(f"mecfs_scanner-{scanner.__version__}-")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [p.relative_to(REPO).as_posix() for top in ("policies", "data")
               for p in (REPO / top).rglob("*") if p.is_file()]
    assert "data/demo/pubmed_demo.xml" in shipped and "policies/v0.1.toml" in shipped
    assert [f for f in shipped if f"scanner/_shipped/{f}" not in names] == []

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    purelib = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    (Path(purelib.stdout.strip()) / "_deps.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    installed = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
                      str(wheel)], env=_clean_env())
    assert installed.returncode == 0, installed.stderr
    assert [line for line in (installed.stdout + installed.stderr).splitlines()
            if "warn" in line.lower() and not _PIP_NOISE.search(line)] == []

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    where = _run([str(py), "-c", "import scanner, importlib.metadata as m; "
                  "print(scanner.__file__); print(m.version('mecfs-scanner'))"],
                 cwd=empty, env=_clean_env())
    path, version = where.stdout.split()
    assert Path(path).is_relative_to(venv), f"scanner imported from {path}, not the wheel"
    assert version == scanner.__version__

    demo = _run([str(venv / "bin" / "scanner"), "demo", "--no-serve"], cwd=empty,
                env=_clean_env())
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    records = (REPO / "data" / "demo" / "pubmed_demo.xml").read_text().count("<PubmedArticle>")
    active = re.escape(Settings().policy.active)
    assert re.search(rf"^{records} records, watermark \S+, policy {active} ", demo.stdout,
                     re.M), demo.stdout[-2000:]
    assert (empty / "var" / "demo.sqlite").is_file()
    assert sorted(p.name for p in empty.iterdir()) == ["var"]
