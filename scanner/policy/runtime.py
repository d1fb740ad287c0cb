"""The deterministic runtime of reproducible classification: torch threads and seeds, and
the library versions checked against a policy's artifact manifest."""

from __future__ import annotations

import json
import random
from typing import Any

from classifiers.policy import Policy

#: torch threads for every rerun, on any machine (a float sum's order depends on it).
RERUN_THREADS = 1
#: Libraries whose version is compared with the model manifest.
CHECKED_LIBRARIES = ("python", "numpy", "scikit-learn", "scipy", "torch",
                     "sentence-transformers", "transformers")
def deterministic_runtime(threads: int = RERUN_THREADS) -> dict[str, Any]:
    """Fix the process-wide sources of nondeterminism; returns what was set."""
    random.seed(0)
    import numpy as np

    np.random.seed(0)
    out: dict[str, Any] = {"threads": threads}
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return out
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    out["torch_threads"] = torch.get_num_threads()
    return out


def manifest_libraries(policy: Policy) -> dict[str, str]:
    """Library versions recorded in the manifest next to the policy's artifact."""
    if policy.relevance.artifact is None:
        return {}
    path = (policy.root / policy.relevance.artifact.path).resolve().parent / "manifest.json"
    if not path.is_file():
        return {}
    libs = json.loads(path.read_text(encoding="utf-8")).get("libraries", {})
    return {str(k): str(v) for k, v in libs.items()}


def library_mismatches(policy: Policy) -> list[str]:
    """One warning per checked library whose version differs from the manifest."""
    from scanner.training.train import library_versions

    recorded = manifest_libraries(policy)
    here = library_versions()
    out = []
    for name in CHECKED_LIBRARIES:
        if name in recorded and recorded[name] != here.get(name):
            out.append(f"{name} {here.get(name)} here, {recorded[name]} in the manifest of "
                       f"policy {policy.version}'s artifact: results may differ")
    return out
