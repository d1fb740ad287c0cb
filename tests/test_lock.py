"""The locked environment: constraints.txt pins the libraries recorded in the active policy's
artifact manifest, and the environment the tests run in was installed from it, so that
``rerun --verify`` on a clean clone reproduces without a library-version warning."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from classifiers.policy import Policy, load_policy
from scanner.config import load_settings
from scanner.policy.runtime import library_mismatches, manifest_libraries
from tests.conftest import REPO

CONSTRAINTS = REPO / "constraints.txt"
#: Installer tools: a new venv brings its own; the lock does not fix them.
TOOLS = {"pip", "setuptools", "wheel"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_constraints(path: Path) -> dict[str, str]:
    out = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"{path.name}: not an exact pin: {raw!r}"
            out[canonical(name)] = version.strip()
    return out


def active_policy() -> Policy:
    """The policy the shipped config.toml makes active (whichever version that is)."""
    settings = load_settings(REPO / "config.toml", environ={})
    return load_policy(settings.policy_dir, settings.policy.active)


def test_constraints_pin_the_active_policy_manifest() -> None:
    policy = active_policy()
    recorded = manifest_libraries(policy)
    if policy.relevance.artifact is not None:
        assert recorded, f"policy {policy.version}: artifact manifest without libraries"
    pins = read_constraints(CONSTRAINTS)
    wrong = {name: {"constraints.txt": pins.get(canonical(name)), "manifest": version}
             for name, version in recorded.items()
             if name != "python" and pins.get(canonical(name)) != version}
    assert wrong == {}, f"constraints.txt disagrees with policy {policy.version}'s manifest " \
                        "(run scripts/lock)"


def test_installed_versions_match_the_active_policy_manifest() -> None:
    """What `rerun --verify` would warn about: nothing."""
    assert library_mismatches(active_policy()) == []


def test_installed_versions_match_constraints() -> None:
    pins = read_constraints(CONSTRAINTS)
    wrong = {}
    for name, version in pins.items():
        if name in TOOLS:
            continue
        try:
            here = metadata.version(name)
        except metadata.PackageNotFoundError:
            here = "not installed"
        if here != version:
            wrong[name] = {"installed": here, "constraints.txt": version}
    assert wrong == {}, "install with: pip install -c constraints.txt -e '.[dev]'"
