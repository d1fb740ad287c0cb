"""Classifier components (relevance, PEM status, study design, full text), registered by name.

The bottom layer: nothing here imports ``scanner`` (a test enforces it). The package's one
version string is the distribution's (``pyproject.toml``), read here and re-exported by
``scanner``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mecfs-scanner")
except PackageNotFoundError:  # pragma: no cover - a bare source tree, never installed
    __version__ = "0+unknown"
