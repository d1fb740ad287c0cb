"""Versioned, immutable policies: TOML files in ``policies/``, frozen and hashed on load."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import PolicyError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SearchSpec(_Frozen):
    query: str
    datetype: Literal["crdt"] = "crdt"


class Policy(_Frozen):
    id: str
    version: str
    description: str = ""
    search: SearchSpec
    #: sha256 of the file's bytes, set by :func:`load_policy`.
    sha256: str = ""

    @property
    def query_sha256(self) -> str:
        return hashlib.sha256(self.search.query.encode()).hexdigest()


def policy_path(policy_dir: Path, version: str) -> Path:
    return policy_dir / f"{version}.toml"


def load_policy(policy_dir: Path, version: str) -> Policy:
    """Load ``policies/{version}.toml`` in binary mode, validate it and hash its bytes."""
    path = policy_path(policy_dir, version)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        known = sorted(p.stem for p in policy_dir.glob("*.toml"))
        raise PolicyError(
            f"policy {version!r} not found in {policy_dir} (known: {', '.join(known) or 'none'})"
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"policy {path.name}: not valid TOML: {exc}") from None
    try:
        policy = Policy.model_validate({**data, "sha256": hashlib.sha256(raw).hexdigest()})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise PolicyError(f"policy {path.name}: {key}: {first['msg']}") from None
    if policy.version != version:
        raise PolicyError(
            f"policy {path.name}: declares version {policy.version!r}, expected {version!r}"
        )
    return policy
