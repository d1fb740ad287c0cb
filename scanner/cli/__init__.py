"""The ``scanner`` command line (click): the root group and its commands, by family.

Each module holds one family of commands; :mod:`.base` holds what they share (context,
``--policy``, dates) and the one error-handling group.
"""

from __future__ import annotations

import logging

import click

from .. import __version__
from ..logs import setup_logging
from . import agreement, classify, ingest, ops, policy, publish, review, scale, study
from .base import Context, ScannerGroup


@click.group(cls=ScannerGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


for _command in (
    ingest.scan, ingest.recheck,
    classify.classify, classify.train, study.train_study, classify.evaluate,
    policy.rerun, policy.diff, policy.policy_group, policy.corrections,
    review.users, review.serve, review.export, agreement.agreement,
    publish.publish, publish.ask,
    scale.sweep,
    ops.status, ops.daemon, ops.demo, ops.db, ops.up,
):
    cli.add_command(_command)


def main() -> None:
    logging.captureWarnings(True)
    cli(prog_name="scanner")


__all__ = ["cli", "main"]
