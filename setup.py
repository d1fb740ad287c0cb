"""Build step: ship the repository's ``policies/`` and ``data/`` inside the wheel.

The two folders stay at the repository root (the design fixes the top-level layout); a
wheel gets copies under ``scanner/_shipped/``, where ``scanner.resources.shipped_path``
finds them. An editable install reads the checkout in place and copies nothing.
Everything else is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: repository folder -> the files of it that a wheel carries.
SHIPPED = {
    "policies": ("*.toml", "*.md", "artifacts/*/*.json", "artifacts/*/*.joblib"),
    "data": ("**/*.csv", "**/*.xml", "**/*.md"),
}


def shipped_files() -> list[tuple[Path, Path]]:
    """(source, path relative to scanner/_shipped) for every shipped file."""
    out = []
    for top, patterns in SHIPPED.items():
        for pattern in patterns:
            for src in sorted((HERE / top).glob(pattern)):
                if src.is_file():
                    out.append((src, src.relative_to(HERE)))
    return out


class BuildPyWithShipped(build_py):
    """``build_py`` plus the copies of policies/ and data/ under scanner/_shipped/."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "scanner" / "_shipped"
        if target.exists():
            shutil.rmtree(target)
        for src, rel in shipped_files():
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / "scanner" / "_shipped"
            outputs += [str(target / rel) for _src, rel in shipped_files()]
        return outputs


setup(cmdclass={"build_py": BuildPyWithShipped})
