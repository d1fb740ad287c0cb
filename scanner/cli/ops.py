"""Running it: ``status``, ``daemon``, ``demo`` and the ``db`` schema commands."""

from __future__ import annotations

import json

import click
from click.core import ParameterSource

from ..logs import setup_logging
from ..store.db import Database
from .base import Context


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """Show the store, the active policy and the last scan."""
    from ..ops.status import status as build_status

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


@click.command()
@click.option("--interval", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="Scan every SECONDS instead of on schedule.scan_cron.")
@click.option("--no-wait", is_flag=True,
              help="Exit (status 6) if another daemon holds this database's lease.")
@click.pass_context
def daemon(ctx: click.Context, interval: float | None, no_wait: bool) -> None:
    """Scan and recheck on schedule, one daemon per database; stop with SIGTERM."""
    from click.core import ParameterSource

    from ..ops.daemon import Daemon
    from ..policy.classify import policy_classifier

    obj: Context = ctx.obj
    if ctx.parent is not None and ctx.parent.get_parameter_source(
            "log_level") == ParameterSource.DEFAULT:
        setup_logging("INFO")  # a daemon's log is its record; --log-level still rules
    policy = obj.policy()
    Daemon(obj.settings, obj.database(), policy, interval=interval, wait=not no_wait,
           classifier=policy_classifier(policy), hard_exit=True).run()


@click.command()
@click.option("--database", "database_url", default=None,
              help="Where the demo stores (default: var/demo.sqlite, recreated).")
@click.option("--keep", is_flag=True, help="Keep an existing demo database.")
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="End by serving the review app.")
@click.option("--host", default=None, help="Review app address (default: review.host).")
@click.option("--port", default=None, type=int, help="Review app port (default: review.port).")
@click.pass_obj
def demo(obj: Context, database_url: str | None, keep: bool, serve: bool, host: str | None,
         port: int | None) -> None:
    """The pipeline offline: replay server, scan, classify, draft, then the review app."""
    from ..ops.demo import run_demo

    run_demo(obj.settings, database_url=database_url, keep=keep, echo=click.echo,
             serve=serve, host=host, port=port)


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Context) -> None:
    """Create or upgrade the schema to this scanner's version."""
    database = obj.database(migrate=True, create=True)
    click.echo(f"{database.display_url}: schema {database.current_revision()}")


@db.command("current")
@click.pass_obj
def db_current(obj: Context) -> None:
    """Print the schema version stamped in the database."""
    database = Database(obj.settings.database_url, create=False)
    click.echo(database.current_revision() or "none")


@click.command("up")
@click.option("--host", default=None, help="Web app address (default: review.host).")
@click.option("--port", type=int, default=None, help="Web app port (default: review.port).")
@click.option("--interval", type=click.FloatRange(min=1), default=None,
              help="Scan every SECONDS instead of the schedule's cron.")
@click.pass_context
def up(ctx: click.Context, host: str | None, port: int | None,
       interval: float | None) -> None:
    """Run the scheduled scanner and the web app together; SIGTERM stops both."""
    from ..ops.up import Up

    obj: Context = ctx.obj
    settings = obj.settings
    db = obj.database(create=True)  # creates or upgrades the store once, before the children
    level = "INFO"  # the children's logs are the deployment's record; --log-level rules
    parent = ctx.parent
    if parent is not None and parent.get_parameter_source(
            "log_level") != ParameterSource.DEFAULT:
        level = str(parent.params["log_level"]).upper()
    Up(settings, db, config_path=obj.config_path, host=host or settings.review.host,
       port=port or settings.review.port, interval=interval, log_level=level,
       echo=click.echo).run()
