"""The policy lifecycle: ``rerun``, ``diff``, ``policy list|activate``, ``corrections``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .base import EXIT_DIFFERENCES, Context, policy_option


@click.command()
@policy_option
@click.option("--verify", is_flag=True,
              help="Re-classify every live record and compare with the stored results; "
                   "exit 1 listing the differences, if any.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="torch threads (default: 1, the same on every machine).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="This process, or Dask workers (scanner/distributed/).")
@click.option("--scheduler", default=None,
              help="--engine dask: scheduler address (default: a local cluster).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="--engine dask: local cluster size (default: one per core).")
@click.pass_obj
def rerun(obj: Context, version: str | None, verify: bool, threads: int | None,
          engine: str, scheduler: str | None, workers: int | None) -> None:
    """Re-classify stored records from their stored raw XML under a pinned policy."""
    from classifiers.pipeline import PaperClassifier

    from ..policy.rerun import rerun as run_rerun
    from ..policy.runtime import RERUN_THREADS

    policy = obj.policy(version)
    if engine == "dask":
        from ..distributed.cluster import dask_client
        from ..distributed.rerun import dask_rerun

        db = obj.database()
        with dask_client(scheduler, workers) as client:
            # --verify recomputes every embedding; a plain rerun shares the disk cache.
            report = dask_rerun(db, policy, client, verify=verify,
                                threads=threads or RERUN_THREADS,
                                cache_dir=None if verify else obj.cache_dir(None, False))
    else:
        if scheduler or workers:
            raise click.UsageError("--scheduler and --workers need --engine dask")
        report = run_rerun(obj.database(), policy, lambda: PaperClassifier(policy),
                           verify=verify, threads=threads or RERUN_THREADS)
    for warning in report.warnings:
        click.echo(f"scanner: warning: {warning}", err=True)
    for difference in report.differences:
        click.echo(difference.line())
    click.echo(report.summary())
    if not report.ok:
        sys.exit(EXIT_DIFFERENCES)


@click.command()
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--output", "output_path", type=click.Path(dir_okay=False), default=None,
              help="Write here (default: stdout).")
@click.option("--labels", "label_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="Labelled CSV for the evaluation figures (default: data/labels/dev.csv "
                   "and data/demo/labels.csv).")
@click.option("--no-eval", is_flag=True, help="Skip the evaluation on the labelled sets.")
@click.pass_obj
def diff(obj: Context, old: str, new: str, fmt: str, output_path: str | None,
         label_files: tuple[str, ...], no_eval: bool) -> None:
    """List the stored papers whose labels, routes or evidence differ between two policies."""
    from classifiers.pipeline import PaperClassifier

    from ..policy.diff import diff_policies, evaluation_figures, format_diff
    from ..policy.runtime import deterministic_runtime
    from ..policy.stored import once
    from ..resources import default_label_files

    old_policy, new_policy = obj.policy(old), obj.policy(new)
    deterministic_runtime()
    old_c = once(lambda: PaperClassifier(old_policy))
    new_c = once(lambda: PaperClassifier(new_policy))
    result = diff_policies(obj.database(), old_policy, new_policy, old_c, new_c)
    if not no_eval:
        files = [Path(f) for f in label_files] or default_label_files(demo=True)
        result.evaluation = evaluation_figures(
            [(old_policy, old_c()), (new_policy, new_c())], files)
    text = format_diff(result, fmt)
    if output_path:
        Path(output_path).write_text(text, encoding="utf-8")
        click.echo(f"{result.counts['papers']} papers would change -> {output_path}", err=True)
    else:
        click.echo(text, nl=False)


@click.group("policy")
def policy_group() -> None:
    """Policy lifecycle: draft, active, retired."""


@policy_group.command("list")
@click.pass_obj
def policy_list(obj: Context) -> None:
    """Every policy file and stored state: version, state, sha256, who activated it, when."""
    from classifiers.policy import known_versions

    from ..store import policies as store

    with obj.database().read() as conn:
        rows = {r.version: r for r in store.states(conn)}
    active = obj.active_version()
    for version in sorted(set(known_versions(obj.settings.policy_dir)) | set(rows)):
        row = rows.get(version)
        if row is not None:
            when = row.activated_at.isoformat() if row.activated_at else "-"
            click.echo(f"{version}\t{row.state}\t{row.sha256[:12]}\t"
                       f"{row.activated_by or '-'}\t{when}\t{row.note or ''}")
        else:
            state = "active (config)" if version == active else "draft"
            click.echo(f"{version}\t{state}\t-\t-\t-\t")


@policy_group.command("activate")
@click.argument("version")
@click.option("--by", "by", required=True, help="Who activates it (recorded).")
@click.option("--note", default=None, help="Why (recorded).")
@click.pass_obj
def policy_activate(obj: Context, version: str, by: str, note: str | None) -> None:
    """Make VERSION active; re-queue approved entries it would label differently."""
    from classifiers.pipeline import PaperClassifier

    from ..policy.activate import activate_policy
    from ..policy.runtime import deterministic_runtime

    policy = obj.policy(version)
    previous_version = obj.active_version()
    previous = obj.policy(previous_version) if previous_version != version else None
    deterministic_runtime()
    PaperClassifier(policy)  # every pin checked before anything is recorded
    result = activate_policy(obj.database(), policy, lambda: PaperClassifier(policy), by=by,
                             previous=previous, note=note)
    for pmid, reason in result.requeued:
        click.echo(f"re-queued {pmid}: {reason}")
    click.echo(result.summary())


@click.group()
def corrections() -> None:
    """Curators' label corrections (training examples for the next policy version)."""


@corrections.command("export")
@click.option("--output", "output_path", type=click.Path(dir_okay=False), default=None,
              help="Write here (default: stdout).")
@click.pass_obj
def corrections_export(obj: Context, output_path: str | None) -> None:
    """Write the latest correction per paper and label as a labelled CSV."""
    from ..policy.corrections import export_csv

    text, n = export_csv(obj.database())
    if output_path:
        Path(output_path).write_text(text, encoding="utf-8")
        click.echo(f"exported {n} corrected papers -> {output_path}", err=True)
    else:
        click.echo(text, nl=False)
