"""The ``scanner up`` command (registered in :mod:`scanner.cli`)."""

from __future__ import annotations

import click
from click.core import ParameterSource

from ..cli import Context, handle_errors


@click.command("up")
@click.option("--host", default=None, help="Web app address (default: review.host).")
@click.option("--port", type=int, default=None, help="Web app port (default: review.port).")
@click.option("--interval", type=click.FloatRange(min=1), default=None,
              help="Scan every SECONDS instead of the schedule's cron.")
@click.pass_context
@handle_errors
def up(ctx: click.Context, host: str | None, port: int | None,
       interval: float | None) -> None:
    """Run the scheduled scanner and the web app together; SIGTERM stops both."""
    from .up import Up

    obj: Context = ctx.obj
    settings = obj.settings
    db = obj.database()  # creates or upgrades the store once, before the children start
    level = "INFO"  # the children's logs are the deployment's record; --log-level rules
    parent = ctx.parent
    if parent is not None and parent.get_parameter_source(
            "log_level") != ParameterSource.DEFAULT:
        level = str(parent.params["log_level"]).upper()
    Up(settings, db, config_path=obj.config_path, host=host or settings.review.host,
       port=port or settings.review.port, interval=interval, log_level=level,
       echo=click.echo).run()
