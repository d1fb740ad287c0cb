"""The curators' side: ``users``, ``serve`` and ``export``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .base import Context


@click.group()
def users() -> None:
    """Accounts of the review app."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["curator", "admin"]), required=True)
@click.pass_obj
def users_add(obj: Context, name: str, role: str) -> None:
    """Create an account; the password comes from SCANNER_PASSWORD or standard input."""
    import os

    from ..store import users as store

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
def users_list(obj: Context) -> None:
    """List the accounts."""
    from ..store import users as store

    with obj.database().read() as conn:
        for u in store.list_users(conn):
            click.echo(f"{u.username}\t{u.role}\t{'disabled' if u.disabled else 'active'}")


@users.command("disable")
@click.argument("name")
@click.pass_obj
def users_disable(obj: Context, name: str) -> None:
    """Disable an account and end its sessions (its audit trail stays)."""
    from ..store import users as store

    with obj.database().write() as conn:
        store.set_disabled(conn, name, True)
    click.echo(f"disabled {name}")


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: review.host).")
@click.option("--port", default=None, type=int, help="Port (default: review.port).")
@click.pass_obj
def serve(obj: Context, host: str | None, port: int | None) -> None:
    """Serve the curators' review app."""
    from ..review.serve import serve as run_server

    settings = obj.settings
    run_server(settings, obj.database(), obj.policy(), host=host or settings.review.host,
               port=port or settings.review.port, echo=click.echo)


@click.command()
@click.option("--format", "fmt", required=True,
              type=click.Choice(["json", "csv", "bibtex", "ris", "markdown"]))
@click.option("--output", "output_path", type=click.Path(dir_okay=False), default=None,
              help="Write here (default: stdout).")
@click.pass_obj
def export(obj: Context, fmt: str, output_path: str | None) -> None:
    """Export approved entries only, with their version stamps."""
    from ..publish.export import export_entries
    from ..store import drafts as store

    with obj.database().read() as conn:
        entries = [dict(r.published) for r in store.published(conn)]
    text = export_entries(entries, fmt)
    if output_path:
        Path(output_path).write_text(text, encoding="utf-8")
        click.echo(f"exported {len(entries)} approved entries -> {output_path}", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))
