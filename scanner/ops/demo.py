"""``scanner demo``: the pipeline offline, on the embedded default.

Starts the local E-utilities replay server over the records the project ships in
``data/demo/`` (written by the project, PMIDs 99000001+, not real papers), scans them into
a fresh SQLite database through the same client, rate limiter and store as a real scan,
reports what it stored, and serves the curators' review app over it with a demo
account (``--no-serve`` stops after the report).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from classifiers.policy import load_policy

from ..config import Settings
from ..errors import ScannerError
from ..ingest.scan import Scanner
from ..policy.classify import policy_classifier
from ..pubmed.eutils import EutilsClient
from ..replay import Corpus, ReplayServer
from ..resources import demo_fulltexts, demo_records
from ..review.serve import serve as run_server
from ..store import users
from ..store.db import Database, open_database
from ..store.models import Classification, Record
from .status import status


def _fresh_sqlite(url: str) -> None:
    prefix = "sqlite:///"
    if url.startswith(prefix):
        path = Path(url[len(prefix):])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


DEMO_USER = "curator"
DEMO_PASSWORD = "demo-curator-password"  # noqa: S105 - printed by the demo on purpose


def scan_demo(settings: Settings, url: str, echo: Callable[[str], None], *,
              pmc: bool = True) -> Database:
    """Scan the demo records from a local replay server into ``url``: records,
    classifications under the active policy, and drafts in the curators' queue
    (``pmc=False``: the server has no PMC full texts, as for a paper not in PMC)."""
    demo_file = demo_records()
    if not demo_file.is_file():
        raise ScannerError(f"demo records not found at {demo_file}; reinstall the scanner")
    corpus = Corpus.from_files([demo_file])
    dates = sorted(rec.create_date for pmid in corpus.pmids()
                   if (rec := corpus.record(pmid)) is not None and rec.create_date)
    db = open_database(url)
    policy = load_policy(settings.policy_dir, settings.policy.active)
    with ReplayServer(corpus) as server:
        demo_pmc = demo_fulltexts()
        if pmc and demo_pmc.is_dir():
            server.pmc_dir = demo_pmc     # a policy with [fulltext] reads methods from here
        echo(f"replay server: {server.base_url} ({len(corpus)} recorded records)")
        eutils = settings.eutils.model_copy(update={"base_url": server.base_url})
        demo_settings = settings.model_copy(update={"eutils": eutils})
        today = dates[-1] + dt.timedelta(days=1)
        with EutilsClient(eutils) as client:
            report = Scanner(demo_settings, db, policy, client, today=lambda: today,
                             classifier=policy_classifier(policy)).run(since=dates[0])
        echo(report.summary())
    return db


def ensure_demo_user(db: Database) -> None:
    with db.write() as conn:
        if not any(u.username == DEMO_USER for u in users.list_users(conn)):
            users.add_user(conn, DEMO_USER, DEMO_PASSWORD, "curator")


def run_demo(settings: Settings, *, database_url: str | None, keep: bool,
             echo: Callable[[str], None], serve: bool = True, host: str | None = None,
             port: int | None = None) -> None:
    url = database_url or f"sqlite:///{(settings.root / 'var' / 'demo.sqlite').resolve()}"
    if not keep:
        _fresh_sqlite(url)
    db = scan_demo(settings, url, echo)
    policy = load_policy(settings.policy_dir, settings.policy.active)
    c = Classification
    with db.read() as conn:
        rows = conn.execute(
            select(Record.pmid, Record.create_date, Record.is_retracted, Record.title,
                   c.relevance_label, c.relevance_route, c.pem_label)
            .outerjoin(c, (c.pmid == Record.pmid) & (c.policy_version == policy.version))
            .order_by(Record.create_date, Record.pmid)).all()
    echo(f"\nstored in {db.display_url} (relevance / route / PEM under {policy.version}):")
    for pmid, created, retracted, title, label, route, pem in rows:
        flag = " [RETRACTED]" if retracted else ""
        echo(f"  {pmid}  {created}  {label or '-':<12} {route or '-':<12} {pem or '-':<14} "
             f"{title[:60]}{flag}")
    info = status(db, policy)
    drafts = ", ".join(f"{n} {state}" for state, n in sorted(info["drafts"].items()))
    echo(f"\n{info['records']['total']} records, watermark {info['watermark']}, "
         f"policy {info['active_policy']} ({policy.sha256[:12]}); drafts: {drafts or 'none'}")
    if not serve:
        return
    ensure_demo_user(db)
    echo(f"\nsign in as {DEMO_USER!r} with password {DEMO_PASSWORD!r}")
    run_server(settings, db, policy, host=host or settings.review.host,
               port=port or settings.review.port, echo=echo)
