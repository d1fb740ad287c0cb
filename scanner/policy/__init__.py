"""The policy lifecycle: classify under a pinned policy, rerun and compare, diff two policies,
activate one, and learn from curators' corrections.

The policy *model* (the TOML schema, loading and hashing) lives in :mod:`classifiers.policy`,
below ``scanner``, because the classifiers are built from it; its names are re-exported here
so that ``scanner`` code can say ``from scanner.policy import Policy``.
"""

from classifiers.errors import PolicyError
from classifiers.policy import (
    FulltextSpec,
    Policy,
    RelevanceSpec,
    known_versions,
    load_policy,
    policy_path,
)

__all__ = ["FulltextSpec", "Policy", "PolicyError", "RelevanceSpec", "known_versions",
           "load_policy", "policy_path"]
