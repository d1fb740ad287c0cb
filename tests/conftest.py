"""Shared fixtures: real data in ../shared, real databases, a real local E-utilities server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
POSTGRES_URL = os.environ.get("SCANNER_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = bool(os.environ.get("CI"))


def require_shared_data() -> Path:
    """The shared data directory; skipped locally when absent, an error in CI."""
    if not SHARED_DATA.is_dir():
        reason = f"shared data not found at {SHARED_DATA}"
        if IN_CI:
            pytest.fail(reason + " (required in CI)")
        pytest.skip(reason)
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared_data()


_pg_checked: bool | None = None


def _postgres_available() -> bool:
    global _pg_checked
    if _pg_checked is None:
        try:
            engine = create_engine(POSTGRES_URL)
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            engine.dispose()
            _pg_checked = True
        except OperationalError:
            _pg_checked = False
    return _pg_checked


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'scanner.sqlite'}"
        return
    with postgres_schema() as url:
        yield url


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL of a fresh PostgreSQL schema, dropped after (skipped locally, failed in CI,
    when PostgreSQL is not reachable)."""
    if not _postgres_available():
        reason = f"PostgreSQL not reachable at {POSTGRES_URL}"
        if IN_CI:
            pytest.fail(reason + " (required in CI)")
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- a real local E-utilities server over real records -------------------------------------
NEAR_MISS = "pubmed_xml/pubmed21n1298_mecfs_and_near_miss.xml.gz"


@pytest.fixture
def eutils_server(shared_data: Path) -> Iterator[Any]:
    """A replay server over the 354 real records of the near-miss file (2021 create dates)."""
    from scanner.replay import Corpus, ReplayServer

    corpus = Corpus.from_files([shared_data / NEAR_MISS])
    with ReplayServer(corpus) as server:
        yield server


def _toml_value(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str | Path) else repr(value)


def make_settings(tmp_path: Path, base_url: str, *, db_url: str | None = None,
                  extra: str = "", environ: dict[str, str] | None = None) -> Any:
    """Settings for tests: the local server, fast backoff, rate limit lifted unless set.

    ``extra`` is TOML: bare keys go to ``[eutils]``, tables are merged in.
    """
    import tomllib

    from scanner.config import load_settings

    data: dict[str, dict[str, Any]] = {
        "database": {"url": db_url or f"sqlite:///{tmp_path / 's.sqlite'}"},
        # the stored-data tests (scan, review, export, rerun) are about policy v0.1's
        # classifications: pinned here, not left to the default (v0.3 since issue 17)
        "policy": {"dir": str(REPO / "policies"), "active": "v0.1"},
        "eutils": {"email": "tests@example.org", "backoff_base": 0.01, "backoff_max": 0.05,
                   "read_timeout": 2.0, "connect_timeout": 2.0, "max_attempts": 4,
                   "batch_size": 50, "requests_per_second": 0},
    }
    for key, value in tomllib.loads(extra).items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data["eutils"][key] = value
    cfg = tmp_path / "config.toml"
    cfg.write_text("".join(
        f"[{section}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items())
        for section, table in data.items()))
    env = {"SCANNER_EUTILS_URL": base_url, **(environ or {})}
    return load_settings(cfg, environ=env)
