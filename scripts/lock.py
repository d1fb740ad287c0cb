"""Write constraints.txt: the resolved set of every package the scanner and its extras need.

Usage (through scripts/lock): ``lock.py [--upgrade] [--output constraints.txt]``. The
active policy (config.toml's ``[policy]``) names the artifact manifest whose library
versions are pinned; pip resolves ``.[dev]`` (which includes every extra) with those pins
(and, without --upgrade, the working environment's versions) in a dry run, ignoring what is
installed, and the file lists exactly what that run would install.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from classifiers.policy import load_policy  # noqa: E402
from scanner.config import load_settings  # noqa: E402

PROJECT = "mecfs-scanner"
#: Installer tools: never pinned here (pip builds the project with its own setuptools).
TOOLS = {"pip", "setuptools", "wheel"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def manifest_pins() -> tuple[str, dict[str, str]]:
    """(policy version, library -> version) from the active policy's artifact manifest."""
    settings = load_settings(REPO / "config.toml", environ={})
    policy = load_policy(settings.policy_dir, settings.policy.active)
    if policy.relevance.artifact is None:
        return policy.version, {}
    path = (policy.root / policy.relevance.artifact.path).resolve().parent / "manifest.json"
    libs = json.loads(path.read_text(encoding="utf-8")).get("libraries", {})
    python = libs.pop("python", None)
    if python and python != platform.python_version():
        print(f"lock: warning: python {platform.python_version()} here, {python} in the "
              f"manifest of policy {policy.version}", file=sys.stderr)
    return policy.version, {canonical(k): str(v) for k, v in libs.items()}


def working_env() -> dict[str, str]:
    out = {}
    for dist in metadata.distributions():
        name = canonical(dist.metadata["Name"] or "")
        if name and name != PROJECT and name not in TOOLS:
            out.setdefault(name, dist.version)
    return out


def resolve(pins: dict[str, str]) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        cons = Path(tmp) / "pins.txt"
        cons.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
               "--quiet", "--report", str(report), "-c", str(cons), f"{REPO}[dev]"]
        done = subprocess.run(cmd, cwd=REPO, check=False)  # noqa: S603 - our own pip
        if done.returncode != 0:
            sys.exit("lock: pip could not resolve the project with these pins "
                     "(try --upgrade, or check the manifest's versions)")
        items = json.loads(report.read_text())["install"]
    return {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in items
            if canonical(i["metadata"]["name"]) != PROJECT}


def read_constraints(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[canonical(name)] = version.strip()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true",
                        help="newest fitting releases, except the manifest's pins")
    parser.add_argument("--output", type=Path, default=REPO / "constraints.txt")
    args = parser.parse_args()
    version, pinned = manifest_pins()
    pins = {} if args.upgrade else working_env()
    pins.update(pinned)
    resolved = resolve(pins)
    for name, want in pinned.items():
        if name in resolved and resolved[name] != want:
            sys.exit(f"lock: {name} resolved to {resolved[name]}, manifest says {want}")
    old = read_constraints(args.output)
    header = (
        "# Exact versions for a reproducible install: pip install -c constraints.txt -e '.[dev]'\n"
        f"# Written by scripts/lock{' --upgrade' if args.upgrade else ''} on "
        f"{dt.date.today().isoformat()} for Python {platform.python_version()} on "
        f"{sys.platform}/{platform.machine()};\n"
        f"# pinned to the library versions in policy {version}'s artifact manifest. "
        "Edit by rerunning scripts/lock.\n")
    args.output.write_text(header + "".join(f"{n}=={v}\n" for n, v in sorted(resolved.items())))
    changed = sorted(n for n in resolved.keys() | old.keys() if resolved.get(n) != old.get(n))
    for name in changed:
        print(f"  {name}: {old.get(name, '-')} -> {resolved.get(name, '-')}")
    print(f"wrote {args.output.name}: {len(resolved)} packages, {len(changed)} changed")


if __name__ == "__main__":
    main()
