"""The tree, DESIGN.md and the layering contract agree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _design_rows() -> dict[str, set[str]]:
    rows: dict[str, set[str]] = {}
    for package, modules in re.findall(r"^\| `([\w/]+/)` \| ((?:`[\w.]+\.py` ?)+) \|",
                                       (REPO / "DESIGN.md").read_text(encoding="utf-8"),
                                       re.M):
        rows.setdefault(package, set()).update(re.findall(r"`([\w.]+\.py)`", modules))
    return rows


def test_every_module_is_in_designs_stage_table() -> None:
    rows = _design_rows()
    missing, stale = [], []
    for path in sorted([*REPO.glob("scanner/**/*.py"), *REPO.glob("classifiers/**/*.py")]):
        rel = path.relative_to(REPO)
        if "migrations" in rel.parts:
            continue
        if path.name not in rows.get(f"{rel.parent.as_posix()}/", set()):
            missing.append(str(rel))
    for package, modules in rows.items():
        stale += [f"{package}{m}" for m in modules if not (REPO / package / m).is_file()]
    assert not missing, f"modules missing from DESIGN.md's stage table: {missing}"
    assert not stale, f"DESIGN.md lists modules that do not exist: {stale}"


def test_the_layering_contract_holds() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a dev dependency (pip install -e '.[dev]')"
    out = subprocess.run([lint], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "classifiers sit strictly below scanner KEPT" in out.stdout
