"""Connecting to Dask: a given scheduler, or a local cluster of worker processes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import ScannerError

log = logging.getLogger(__name__)

#: What ``pip install 'mecfs-scanner[dask]'`` adds (pyproject.toml's ``dask`` extra).
DASK_EXTRA = "mecfs-scanner[dask]"


def require_dask_extra() -> None:
    """Fail with one line naming the extra when Dask, pyarrow or pandas is not installed."""
    try:
        import dask.distributed  # noqa: F401
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ScannerError(
            f"this command runs on Dask and needs the [dask] extra ({exc.name or exc} is not "
            f"installed): pip install '{DASK_EXTRA}'") from None


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None, *,
                threads_per_worker: int = 1, dashboard: str | None = ":8787",
                announce: bool = True) -> Iterator[Any]:
    """A ``dask.distributed.Client``: to ``scheduler`` if given, else to a new
    ``LocalCluster`` of ``workers`` processes (default: one per core) with
    ``threads_per_worker`` threads each, closed on exit. Prints the dashboard link."""
    import os

    require_dask_extra()
    from dask.distributed import Client, LocalCluster

    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="30s")
        else:
            cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1,
                                   threads_per_worker=threads_per_worker, processes=True,
                                   dashboard_address=dashboard, silence_logs=logging.ERROR)
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise ScannerError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from exc
    try:
        if announce:
            link = client.dashboard_link if dashboard or scheduler else None
            n = len(client.scheduler_info().get("workers", {}))
            where = scheduler or "a local cluster"
            print(f"dask: {n} workers on {where}" + (f"; dashboard: {link}" if link else ""),
                  file=sys.stderr, flush=True)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def worker_count(client: Any) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


def progress_bar(total: int, unit: str, desc: str) -> Any:
    """A tqdm bar on a terminal (standard error), silent otherwise."""
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, disable=not sys.stderr.isatty(),
                dynamic_ncols=True)
