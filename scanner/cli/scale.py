"""Scale-out: ``sweep`` (Dask over PubMed baseline files)."""

from __future__ import annotations

from pathlib import Path

import click

from .base import Context, policy_option


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--output", "output_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for the Parquet partitions, manifest and report.")
@click.option("--scheduler", default=None, help="Dask scheduler address (default: a local "
              "cluster; inputs and --output must then be at the same paths on every worker).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local cluster size (default: one worker process per core).")
@policy_option
@click.option("--partition-size", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Records per task.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Embedding cache directory (default: var/cache beside the config).")
@click.option("--no-cache", is_flag=True, help="Keep embeddings in memory only.")
@click.pass_obj
def sweep(obj: Context, files: tuple[str, ...], output_dir: str, scheduler: str | None,
          workers: int | None, version: str | None, partition_size: int,
          cache_dir: str | None, no_cache: bool) -> None:
    """Classify PubMed baseline/update files on Dask into Parquet (resumable)."""
    from ..distributed.cluster import dask_client
    from ..distributed.sweep import run_sweep

    policy = obj.policy(version)
    with dask_client(scheduler, workers) as client:
        report = run_sweep(client, [Path(f) for f in files], Path(output_dir), policy,
                           partition_size=partition_size,
                           cache_dir=obj.cache_dir(cache_dir, no_cache))
    click.echo(report.summary())
