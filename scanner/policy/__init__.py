"""The policy lifecycle: classify under a pinned policy, rerun and compare, diff two policies,
activate one, and learn from curators' corrections.

The policy *model* (the TOML schema, loading and hashing) lives in :mod:`classifiers.policy`,
below ``scanner``, because the classifiers are built from it.
"""
