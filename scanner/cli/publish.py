"""``scanner publish`` and ``scanner ask``: plain click commands, registered in cli.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .base import Context


@click.command("publish")
@click.option("--output", "output_dir", required=True, type=click.Path(file_okay=False),
              help="Directory of the static site (created; brought up to date if it exists).")
@click.option("--base-url", default="", help="Origin the site is served from, for stable "
              "absolute URLs in citations, the feed and the sitemap (e.g. https://atlas.org).")
@click.option("--path", "site_path", default="/", show_default=True,
              help="Path on that origin where DIR is served.")
@click.pass_obj
def _publish(obj: Context, output_dir: str, base_url: str, site_path: str) -> None:
    """Write the static site of approved entries (their published snapshots) to DIR."""
    from ..publish import entries as public_entries
    from ..publish import site, static

    policy = obj.policy()
    with obj.database().read() as conn:
        entries = public_entries.collect(conn, policy)
        gone = public_entries.withdrawn(conn)
    report = static.publish(entries, Path(output_dir), policy,
                            urls=site.static_urls(base_url, site_path), withdrawn=gone)
    click.echo(report.summary(Path(output_dir)))


@click.command("ask")
@click.argument("question")
@click.option("--limit", type=click.IntRange(min=1, max=100), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--mode", type=click.Choice(["hybrid", "bm25", "dense"]), default="hybrid",
              show_default=True, help="Ranker: BM25 + embeddings fused, or one alone.")
@click.pass_obj
def _ask(obj: Context, question: str, limit: int, as_json: bool, mode: str) -> None:
    """Rank approved entries for a question in plain words, quoting matching sentences."""
    from ..publish import entries as public_entries
    from ..publish.ask import AskIndex

    policy = obj.policy()
    with obj.database().read() as conn:
        entries = public_entries.collect(conn, policy)
    index = AskIndex(entries, policy, cache_dir=obj.settings.root / "var" / "cache")
    answers = index.ask(question, limit=limit, mode=mode)
    for a in answers:
        if as_json:
            click.echo(json.dumps(a.to_json(), ensure_ascii=False))
        else:
            click.echo(_plain(a.to_json()))
    if not answers and not as_json:
        click.echo("no approved entry matches", err=True)


publish: click.Command = _publish
ask: click.Command = _ask


def _plain(a: dict[str, Any]) -> str:
    return f"{a['rank']}. PMID {a['pmid']} ({a['score']:.4f}) {a['title']}\n   " \
           f"{a['badge']}\n   “{a['quote']}”"
