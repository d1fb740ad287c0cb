"""What every command shares: the lazily built context, the policy option, date parsing,
and one error-handling group that turns errors into one line and a documented exit code."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from classifiers.policy import Policy, load_policy

from ..config import Settings, load_settings
from ..errors import ScannerError
from ..logs import redact
from ..store.db import Database, open_database

#: Exit statuses besides each ScannerError subclass's ``exit_code`` (README, "Exit codes").
EXIT_OK = 0
EXIT_DIFFERENCES = 1  # `rerun --verify` found differences
EXIT_USAGE = 64  # sysexits.h EX_USAGE: a bad option or argument (click's usage errors)
EXIT_INTERRUPTED = 130  # 128 + SIGINT


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
        from ..store.policies import stored_active_version

        return stored_active_version(self.settings) or self.settings.policy.active

    def database(self, *, migrate: bool = True, create: bool = False) -> Database:
        """The configured store; a missing SQLite file is refused unless ``create``
        (only ``db upgrade``, ``demo`` and ``up`` create one)."""
        s = self.settings
        return open_database(s.database_url, busy_timeout_ms=s.database.busy_timeout_ms,
                             migrate=migrate, create=create)

    def cache_dir(self, cache_dir: str | None, no_cache: bool) -> Path | None:
        """The embedding cache (``--cache-dir``, default ``var/cache`` beside the config)."""
        if no_cache:
            return None
        return Path(cache_dir) if cache_dir else self.settings.root / "var" / "cache"


def parse_date(_ctx: Any, _param: Any, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


#: ``--policy VERSION`` on every command that classifies; the default is the active policy.
policy_option = click.option("--policy", "version", default=None,
                             help="Policy version (default: the active policy).")


def fail(exc: ScannerError) -> None:
    """Print one line for ``exc`` and exit with its status."""
    click.echo(f"scanner: error: {redact(str(exc))}", err=True)
    sys.exit(exc.exit_code)


class ScannerGroup(click.Group):
    """The root group: every command's errors are handled here, once.

    A :class:`ScannerError` becomes ``scanner: error: ...`` and its ``exit_code``; Ctrl-C
    becomes ``scanner: interrupted`` and 130; click's usage errors keep click's message and
    exit 64, so that they never share a status with a configuration error (2).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ScannerError as exc:
            fail(exc)
        except KeyboardInterrupt:
            click.echo("scanner: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        call = dict(args=args, prog_name=prog_name, complete_var=complete_var, **extra)
        if not standalone_mode:
            return super().main(standalone_mode=False, **call)
        try:
            rv = super().main(standalone_mode=False, **call)
        except click.UsageError as exc:
            exc.show()
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("scanner: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)
