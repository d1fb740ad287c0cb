"""``scanner agreement``: dual-review agreement figures (scanner/review/agreement.py)."""

from __future__ import annotations

import json

import click

from .base import Context


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def agreement(obj: Context, as_json: bool) -> None:
    """Cohen's kappa and percent agreement between curators and with the adjudicated label."""
    from ..review.agreement import figures, text_report

    fig = figures(obj.database(), obj.policy())
    click.echo(json.dumps(fig, indent=2) if as_json else text_report(fig))
