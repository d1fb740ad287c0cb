"""``scan`` and ``recheck``: bring PubMed records into the store."""

from __future__ import annotations

import datetime as dt

import click

from .base import Context, parse_date


@click.command()
@click.option("--since", callback=parse_date, help="First create-date day (YYYY-MM-DD).")
@click.option("--until", callback=parse_date, help="Last create-date day (YYYY-MM-DD).")
@click.pass_obj
def scan(obj: Context, since: dt.date | None, until: dt.date | None) -> None:
    """Poll E-utilities for the policy query and store new and changed records."""
    from ..ingest.scan import Scanner
    from ..pubmed.eutils import EutilsClient

    if since and until and since > until:
        raise click.BadParameter("--since is after --until")
    settings = obj.settings
    policy = obj.policy()
    db = obj.database()
    from ..policy.classify import policy_classifier

    with EutilsClient(settings.eutils) as client:
        report = Scanner(settings, db, policy, client,
                         classifier=policy_classifier(policy)).run(since, until)
    click.echo(report.summary())


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Records to re-check, oldest-checked first (default: schedule.recheck_limit; "
                   "0 there means all).")
@click.pass_obj
def recheck(obj: Context, limit: int | None) -> None:
    """Re-fetch known records: store changes, flag retractions, errata and deletions."""
    from ..ingest.recheck import Rechecker
    from ..policy.classify import policy_classifier
    from ..pubmed.eutils import EutilsClient

    settings = obj.settings
    policy = obj.policy()
    db = obj.database()
    with EutilsClient(settings.eutils) as client:
        report = Rechecker(settings, db, policy, client,
                           classifier=policy_classifier(policy)).run(
            limit or settings.schedule.recheck_limit or None)
    click.echo(report.summary())
