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
        return load_policy(self.settings.policy_dir, version or self.settings.policy.active)

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
@click.pass_obj
@handle_errors
def train(obj: Context, version: str | None, label_files: tuple[str, ...],
          out_dir: str | None, no_embeddings: bool) -> None:
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
    from classifiers.evaluate import evaluate as run_evaluate
    from classifiers.evaluate import format_report
    from classifiers.pipeline import PaperClassifier, training_pmids

    policy = obj.policy(version)
    files = [Path(f) for f in label_files] or [REPO / "data" / "labels" / "dev.csv",
                                                REPO / "data" / "demo" / "labels.csv"]
    classifier = PaperClassifier(policy)
    seen = training_pmids(policy)
    reports = {}
    for path in files:
        examples = load_labelled(path)
        results = classifier.classify([e.paper for e in examples])
        reports[str(path)] = run_evaluate(examples, results, seen)
    if as_json:
        click.echo(json.dumps(reports, indent=2))
        return
    for name, report in reports.items():
        click.echo(f"=== {name} (policy {policy.version}) ===")
        click.echo(format_report(report))
        click.echo()


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
@click.pass_obj
@handle_errors
def demo(obj: Context, database_url: str | None, keep: bool) -> None:
    """Run the pipeline offline: a local E-utilities replay server, a scan into SQLite."""
    from .demo import run_demo

    run_demo(obj.settings, database_url=database_url, keep=keep, echo=click.echo)


def main() -> None:
    logging.captureWarnings(True)
    cli(prog_name="scanner")


if __name__ == "__main__":  # pragma: no cover
    main()

