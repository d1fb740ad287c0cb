"""The ``scanner`` command line (click)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .config import Settings, load_settings
from .errors import ScannerError
from .logs import setup_logging
from .policy import Policy, load_policy
from .store.db import Database, open_database

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """Lazily built pieces shared by the commands."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def policy(self, version: str | None = None) -> Policy:
        return load_policy(self.settings.policy_dir, version or self.active_version())

    def active_version(self) -> str:
        """The store's active policy (``scanner policy activate``), else ``policy.active``."""
        from .store.policies import stored_active_version

        return stored_active_version(self.settings) or self.settings.policy.active

    def database(self, *, migrate: bool = True) -> Database:
        s = self.settings
        return open_database(s.database_url, busy_timeout_ms=s.database.busy_timeout_ms,
                             migrate=migrate)


def _date(_ctx: Any, _param: Any, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def handle_errors(func: F) -> F:
    """Turn a ScannerError into one line on stderr and its exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ScannerError as exc:
            click.echo(f"scanner: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("scanner: interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scanner")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file (default: ./config.toml).")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str) -> None:
    """Scan PubMed for ME/CFS research, classify it, and queue it for curators."""
    setup_logging(log_level.upper())
    ctx.obj = Context(config_path)


@cli.command()
@click.option("--since", callback=_date, help="First create-date day (YYYY-MM-DD).")
@click.option("--until", callback=_date, help="Last create-date day (YYYY-MM-DD).")
@click.pass_obj
@handle_errors
def scan(obj: Context, since: dt.date | None, until: dt.date | None) -> None:
    """Poll E-utilities for the policy query and store new and changed records."""
    from .pubmed.eutils import EutilsClient
    from .scan import Scanner

    if since and until and since > until:
        raise click.BadParameter("--since is after --until")
    settings = obj.settings
    policy = obj.policy()
    db = obj.database()
    from .classify import policy_classifier

    with EutilsClient(settings.eutils) as client:
        report = Scanner(settings, db, policy, client,
                         classifier=policy_classifier(policy)).run(since, until)
    click.echo(report.summary())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handle_errors
def status(obj: Context, as_json: bool) -> None:
    """Show the store, the active policy and the last scan."""
    from .status import status as build_status

    data = build_status(obj.database(), obj.policy())
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=False))
        return
    last = data["last_scan"]
    click.echo(f"records: {data['records']['total']} ({data['records']['deleted']} deleted, "
               f"{data['records']['versions']} versions)")
    click.echo(f"policy: {data['active_policy']}  watermark: {data['watermark'] or 'none'}")
    if last:
        click.echo(f"last scan: #{last['id']} {last['outcome']} {last['start']} "
                   f"window {last['window_start']}..{last['window_end']}")


@cli.command()
@click.option("--policy", "version", default=None, help="Policy version (default: active).")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="PubMed XML (PubmedArticleSet), plain or .gz.")
@click.option("--fulltext", "fulltext_dir", type=click.Path(file_okay=False), default=None,
              help="Directory of full texts: {pmid}.xml (JATS) or {pmid}.txt.")
@click.option("--output", "output_path", type=click.Path(dir_okay=False), default=None,
              help="Write JSON lines here (default: stdout).")
@click.pass_obj
@handle_errors
def classify(obj: Context, version: str | None, input_path: str, fulltext_dir: str | None,
             output_path: str | None) -> None:
    """Classify PubMed XML offline, one JSON object per line (no database)."""
    from .classify import classify_file

    count = classify_file(obj.policy(version), Path(input_path),
                          Path(output_path) if output_path else None,
                          Path(fulltext_dir) if fulltext_dir else None)
    if output_path:
        click.echo(f"classified {count} records -> {output_path}", err=True)


@cli.command()
@click.option("--policy", "version", default=None, help="Policy version (default: active).")
@click.option("--labels", "label_files", multiple=True, type=click.Path(dir_okay=False),
              help="Labelled CSV (default: data/labels/dev.csv).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Artifact directory (default: policies/artifacts/VERSION).")
@click.option("--no-embeddings", is_flag=True, help="Train the TF-IDF model only.")
@click.option("--corrections", "use_corrections", is_flag=True,
              help="Add the curators' relevance corrections from the database (for a new "
                   "policy version: never into another version's artifact directory).")
@click.pass_obj
@handle_errors
def train(obj: Context, version: str | None, label_files: tuple[str, ...],
          out_dir: str | None, no_embeddings: bool, use_corrections: bool) -> None:
    """Train the relevance models deterministically; print the policy pins."""
    from classifiers.datasets import REPO, load_labelled
    from classifiers.embedding import Encoder
    from classifiers.train import policy_snippet
    from classifiers.train import train as run_train

    policy = obj.policy(version)
    files = [Path(f) for f in label_files] or [REPO / "data" / "labels" / "dev.csv"]
    examples = [ex for f in files for ex in load_labelled(f)]
    pin = policy.relevance.embedding
    encoder = None if no_embeddings or pin is None else Encoder(pin.package, pin.sha256)
    target = Path(out_dir) if out_dir else policy.root / "artifacts" / policy.version
    if use_corrections:
        from .corrections import check_target_free, correction_examples, merge

        check_target_free(policy, target)
        examples, replaced, added = merge(examples, correction_examples(obj.database()))
        click.echo(f"curator corrections: {replaced} labels replaced, {added} papers added")
    result = run_train(examples, target, encoder=encoder, label_files=files)
    cv = result.manifest["cross_validated"]
    click.echo(f"trained on {len(examples)} labelled papers; cross-validated accuracy "
               f"{cv['accuracy']:.3f}; wrote {result.artifact} and manifest.json")
    artifact = result.artifact.resolve()
    root = policy.root.resolve()
    rel = artifact.relative_to(root) if artifact.is_relative_to(root) else artifact
    click.echo("\n# pins for the policy's [relevance] table:\n" + policy_snippet(result, str(rel)))


@cli.command()
@click.option("--policy", "version", default=None, help="Policy version (default: active).")
@click.option("--labels", "label_files", multiple=True, type=click.Path(dir_okay=False),
              help="Labelled CSV (default: data/labels/dev.csv and data/demo/labels.csv).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_obj
@handle_errors
def evaluate(obj: Context, version: str | None, label_files: tuple[str, ...],
             as_json: bool) -> None:
    """Per-label precision, recall, F1, confusion, routing and calibration."""
    from classifiers.datasets import REPO, load_labelled
    from classifiers.evaluate import format_honest, honest_evaluate
    from classifiers.pipeline import PaperClassifier, training_manifest, training_pmids

    policy = obj.policy(version)
    files = [Path(f) for f in label_files] or [REPO / "data" / "labels" / "dev.csv",
                                                REPO / "data" / "demo" / "labels.csv"]
    classifier = PaperClassifier(policy)
    seen = training_pmids(policy)
    manifest = training_manifest(policy)
    reports = {}
    for path in files:
        examples = load_labelled(path)
        results = classifier.classify([e.paper for e in examples])
        reports[str(path)] = honest_evaluate(examples, results, seen, manifest)
    if as_json:
        click.echo(json.dumps(reports, indent=2))
        return
    for name, report in reports.items():
        click.echo(f"=== {name} (policy {policy.version}) ===")
        click.echo(format_honest(report))
        click.echo()


@cli.group()
def users() -> None:
    """Accounts of the review app."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["curator", "admin"]), required=True)
@click.pass_obj
@handle_errors
def users_add(obj: Context, name: str, role: str) -> None:
    """Create an account; the password comes from SCANNER_PASSWORD or standard input."""
    import os

    from .store import users as store

    password = os.environ.get("SCANNER_PASSWORD")
    if not password:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\r\n")
    with obj.database().write() as conn:
        store.add_user(conn, name, password or "", role)
    click.echo(f"added {role} {name}")


@users.command("list")
@click.pass_obj
@handle_errors
def users_list(obj: Context) -> None:
    """List the accounts."""
    from .store import users as store

    with obj.database().read() as conn:
        for u in store.list_users(conn):
            click.echo(f"{u.username}\t{u.role}\t{'disabled' if u.disabled else 'active'}")


@users.command("disable")
@click.argument("name")
@click.pass_obj
@handle_errors
def users_disable(obj: Context, name: str) -> None:
    """Disable an account and end its sessions (its audit trail stays)."""
    from .store import users as store

    with obj.database().write() as conn:
        store.set_disabled(conn, name, True)
    click.echo(f"disabled {name}")


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default: review.host).")
@click.option("--port", default=None, type=int, help="Port (default: review.port).")
@click.pass_obj
@handle_errors
def serve(obj: Context, host: str | None, port: int | None) -> None:
    """Serve the curators' review app."""
    from .review.serve import serve as run_server

    settings = obj.settings
    run_server(settings, obj.database(), obj.policy(), host=host or settings.review.host,
               port=port or settings.review.port, echo=click.echo)


@cli.command()
@click.option("--format", "fmt", required=True,
              type=click.Choice(["json", "csv", "bibtex", "ris", "markdown"]))
@click.option("--output", "output_path", type=click.Path(dir_okay=False), default=None,
              help="Write here (default: stdout).")
@click.pass_obj
@handle_errors
def export(obj: Context, fmt: str, output_path: str | None) -> None:
    """Export approved entries only, with their version stamps."""
    from .export import export_entries
    from .store import drafts as store

    with obj.database().read() as conn:
        entries = [dict(r.published) for r in store.published(conn)]
    text = export_entries(entries, fmt)
    if output_path:
        Path(output_path).write_text(text, encoding="utf-8")
        click.echo(f"exported {len(entries)} approved entries -> {output_path}", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))


@cli.command()
@click.option("--policy", "version", default=None, help="Policy version (default: active).")
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
@handle_errors
def rerun(obj: Context, version: str | None, verify: bool, threads: int | None,
          engine: str, scheduler: str | None, workers: int | None) -> None:
    """Re-classify stored records from their stored raw XML under a pinned policy."""
    from classifiers.pipeline import PaperClassifier

    from .rerun import RERUN_THREADS
    from .rerun import rerun as run_rerun

    policy = obj.policy(version)
    if engine == "dask":
        from .distributed.cluster import dask_client
        from .distributed.rerun import dask_rerun

        db = obj.database()
        with dask_client(scheduler, workers) as client:
            # --verify recomputes every embedding; a plain rerun shares the disk cache.
            report = dask_rerun(db, policy, client, verify=verify,
                                threads=threads or RERUN_THREADS,
                                cache_dir=None if verify else _cache_dir(obj, None, False))
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
        sys.exit(1)


@cli.command()
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--output", "output_path", type=click.Path(dir_okay=False), default=None,
              help="Write here (default: stdout).")
@click.option("--labels", "label_files", multiple=True, type=click.Path(dir_okay=False),
              help="Labelled CSV for the evaluation figures (default: data/labels/dev.csv "
                   "and data/demo/labels.csv).")
@click.option("--no-eval", is_flag=True, help="Skip the evaluation on the labelled sets.")
@click.pass_obj
@handle_errors
def diff(obj: Context, old: str, new: str, fmt: str, output_path: str | None,
         label_files: tuple[str, ...], no_eval: bool) -> None:
    """List the stored papers whose labels, routes or evidence differ between two policies."""
    from classifiers.datasets import REPO
    from classifiers.pipeline import PaperClassifier

    from .policy_diff import diff_policies, evaluation_figures, format_diff
    from .rerun import deterministic_runtime, once

    old_policy, new_policy = obj.policy(old), obj.policy(new)
    deterministic_runtime()
    old_c = once(lambda: PaperClassifier(old_policy))
    new_c = once(lambda: PaperClassifier(new_policy))
    result = diff_policies(obj.database(), old_policy, new_policy, old_c, new_c)
    if not no_eval:
        files = [Path(f) for f in label_files] or [REPO / "data" / "labels" / "dev.csv",
                                                    REPO / "data" / "demo" / "labels.csv"]
        result.evaluation = evaluation_figures(
            [(old_policy, old_c()), (new_policy, new_c())], files)
    text = format_diff(result, fmt)
    if output_path:
        Path(output_path).write_text(text, encoding="utf-8")
        click.echo(f"{result.counts['papers']} papers would change -> {output_path}", err=True)
    else:
        click.echo(text, nl=False)


@cli.group("policy")
def policy_group() -> None:
    """Policy lifecycle: draft, active, retired."""


@policy_group.command("list")
@click.pass_obj
@handle_errors
def policy_list(obj: Context) -> None:
    """Every policy file and stored state: version, state, sha256, who activated it, when."""
    from .policy import known_versions
    from .store import policies as store

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
@handle_errors
def policy_activate(obj: Context, version: str, by: str, note: str | None) -> None:
    """Make VERSION active; re-queue approved entries it would label differently."""
    from classifiers.pipeline import PaperClassifier

    from .policy_activate import activate_policy
    from .rerun import deterministic_runtime

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


@cli.group()
def corrections() -> None:
    """Curators' label corrections (training examples for the next policy version)."""


@corrections.command("export")
@click.option("--output", "output_path", type=click.Path(dir_okay=False), default=None,
              help="Write here (default: stdout).")
@click.pass_obj
@handle_errors
def corrections_export(obj: Context, output_path: str | None) -> None:
    """Write the latest correction per paper and label as a labelled CSV."""
    from .corrections import export_csv

    text, n = export_csv(obj.database())
    if output_path:
        Path(output_path).write_text(text, encoding="utf-8")
        click.echo(f"exported {n} corrected papers -> {output_path}", err=True)
    else:
        click.echo(text, nl=False)


def _cache_dir(obj: Context, cache_dir: str | None, no_cache: bool) -> Path | None:
    """The embedding cache (``--cache-dir``, default ``var/cache`` beside the config)."""
    if no_cache:
        return None
    return Path(cache_dir) if cache_dir else obj.settings.root / "var" / "cache"


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--output", "output_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for the Parquet partitions, manifest and report.")
@click.option("--scheduler", default=None, help="Dask scheduler address (default: a local "
              "cluster; inputs and --output must then be at the same paths on every worker).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local cluster size (default: one worker process per core).")
@click.option("--policy", "version", default=None, help="Policy version (default: active).")
@click.option("--partition-size", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Records per task.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Embedding cache directory (default: var/cache beside the config).")
@click.option("--no-cache", is_flag=True, help="Keep embeddings in memory only.")
@click.pass_obj
@handle_errors
def sweep(obj: Context, files: tuple[str, ...], output_dir: str, scheduler: str | None,
          workers: int | None, version: str | None, partition_size: int,
          cache_dir: str | None, no_cache: bool) -> None:
    """Classify PubMed baseline/update files on Dask into Parquet (resumable)."""
    from .distributed.cluster import dask_client
    from .distributed.sweep import run_sweep

    policy = obj.policy(version)
    with dask_client(scheduler, workers) as client:
        report = run_sweep(client, [Path(f) for f in files], Path(output_dir), policy,
                           partition_size=partition_size,
                           cache_dir=_cache_dir(obj, cache_dir, no_cache))
    click.echo(report.summary())


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.pass_obj
@handle_errors
def db_upgrade(obj: Context) -> None:
    """Create or upgrade the schema to this scanner's version."""
    database = obj.database(migrate=True)
    click.echo(f"{database.display_url}: schema {database.current_revision()}")


@db.command("current")
@click.pass_obj
@handle_errors
def db_current(obj: Context) -> None:
    """Print the schema version stamped in the database."""
    database = Database(obj.settings.database_url)
    click.echo(database.current_revision() or "none")


@cli.command()
@click.option("--database", "database_url", default=None,
              help="Where the demo stores (default: var/demo.sqlite, recreated).")
@click.option("--keep", is_flag=True, help="Keep an existing demo database.")
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="End by serving the review app.")
@click.option("--host", default=None, help="Review app address (default: review.host).")
@click.option("--port", default=None, type=int, help="Review app port (default: review.port).")
@click.pass_obj
@handle_errors
def demo(obj: Context, database_url: str | None, keep: bool, serve: bool, host: str | None,
         port: int | None) -> None:
    """The pipeline offline: replay server, scan, classify, draft, then the review app."""
    from .demo import run_demo

    run_demo(obj.settings, database_url=database_url, keep=keep, echo=click.echo,
             serve=serve, host=host, port=port)


@cli.command()
@click.option("--interval", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="Scan every SECONDS instead of on schedule.scan_cron.")
@click.option("--no-wait", is_flag=True,
              help="Exit (status 6) if another daemon holds this database's lease.")
@click.pass_context
@handle_errors
def daemon(ctx: click.Context, interval: float | None, no_wait: bool) -> None:
    """Scan and sweep on schedule, one daemon per database; stop with SIGTERM."""
    from click.core import ParameterSource

    from .classify import policy_classifier
    from .daemon import Daemon

    obj: Context = ctx.obj
    if ctx.parent is not None and ctx.parent.get_parameter_source(
            "log_level") == ParameterSource.DEFAULT:
        setup_logging("INFO")  # a daemon's log is its record; --log-level still rules
    policy = obj.policy()
    Daemon(obj.settings, obj.database(), policy, interval=interval, wait=not no_wait,
           classifier=policy_classifier(policy), hard_exit=True).run()


@cli.command()
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Records to re-check, oldest-checked first (default: schedule.sweep_limit; "
                   "0 there means all).")
@click.pass_obj
@handle_errors
def recheck(obj: Context, limit: int | None) -> None:
    """Re-fetch known records: store changes, flag retractions, errata and deletions."""
    from .classify import policy_classifier
    from .pubmed.eutils import EutilsClient
    from .recheck import Rechecker

    settings = obj.settings
    policy = obj.policy()
    db = obj.database()
    with EutilsClient(settings.eutils) as client:
        report = Rechecker(settings, db, policy, client,
                           classifier=policy_classifier(policy)).run(
            limit or settings.schedule.sweep_limit or None)
    click.echo(report.summary())


def main() -> None:
    logging.captureWarnings(True)
    cli(prog_name="scanner")


def _register_study() -> None:  # issue 17; re-registered after the split
    from .study_cli import train_study

    cli.add_command(train_study)


_register_study()

if __name__ == "__main__":  # pragma: no cover
    main()

