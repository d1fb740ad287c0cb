"""Where the project's own files are: the policies and the data shipped with the scanner.

In a checkout (or an editable install) they are the repository's ``policies/`` and
``data/``. A wheel carries copies of both under ``scanner/_shipped/`` (``setup.py``'s
build step puts them there), so an installed scanner finds its default policy, the demo
records and the labelled sets without a checkout. :func:`shipped_path` is the one lookup:
the installed copy when there is one, else the checkout's.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import ScannerError

#: Top-level folders of the repository that a wheel ships.
SHIPPED_DIRS = ("policies", "data")
#: Folder inside the ``scanner`` package that holds the wheel's copies.
SHIPPED_PACKAGE_DIR = "_shipped"


def package_dir() -> Path:
    """The installed (or checked-out) ``scanner`` package directory."""
    root = resources.files("scanner")
    if not isinstance(root, Path):  # pragma: no cover - zip imports are not supported
        raise ScannerError(f"the scanner package must be installed as files, not in {root}")
    return root


def checkout_root() -> Path | None:
    """The repository root when the package runs from a checkout, else ``None``."""
    root = package_dir().parent
    if (root / "pyproject.toml").is_file() and all((root / d).is_dir() for d in SHIPPED_DIRS):
        return root
    return None


def shipped_path(top: str, *parts: str) -> Path:
    """``policies/...`` or ``data/...``: the copy installed with the package, else the
    checkout's. ``top`` is one of :data:`SHIPPED_DIRS`."""
    if top not in SHIPPED_DIRS:
        raise ValueError(f"not a shipped folder: {top!r} (one of {', '.join(SHIPPED_DIRS)})")
    installed = package_dir() / SHIPPED_PACKAGE_DIR / top
    if installed.is_dir():
        return installed.joinpath(*parts)
    root = checkout_root()
    if root is None:
        raise ScannerError(f"the scanner's {top}/ folder is missing: neither installed with the "
                           f"package ({installed}) nor in a checkout; reinstall the scanner")
    return root.joinpath(top, *parts)


def demo_records() -> Path:
    """The demo's recorded PubMed XML (``data/demo/pubmed_demo.xml``)."""
    return shipped_path("data", "demo", "pubmed_demo.xml")


def demo_fulltexts() -> Path:
    """The demo's synthetic JATS full texts, served for ``efetch db=pmc``
    (``data/demo/pmc/``)."""
    return shipped_path("data", "demo", "pmc")


def default_label_files(*, demo: bool) -> list[Path]:
    """The labelled sets used when a command is given none: ``data/labels/dev.csv`` and,
    with ``demo``, ``data/demo/labels.csv``."""
    files = [shipped_path("data", "labels", "dev.csv")]
    if demo:
        files.append(shipped_path("data", "demo", "labels.csv"))
    return files


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout (read in place, never copied); outside a
    checkout, beside the working directory."""
    base = checkout_root() or Path.cwd()
    return base.parent / "shared" / "data"
