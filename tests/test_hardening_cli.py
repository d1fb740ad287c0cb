"""Issue 12 through the command line (separate processes) and the replay server: API keys
in echoed errors, PMID validation, --fulltext containment, response caps, database
failures in one line, stores created only on purpose, no .part left behind."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from lxml import etree

from scanner.errors import EutilsError
from scanner.pubmed.eutils import EutilsClient
from scanner.pubmed.ratelimit import RateLimiter
from scanner.replay import Corpus, ReplayServer
from scanner.store.db import _alembic_config, open_database
from tests.conftest import REPO, make_settings

DEMO = REPO / "data" / "demo" / "pubmed_demo.xml"
KEY = "0123456789abcdef0123456789abcdef01"
BAD_PMIDS = ("abc", "-1", "12 34", "1" * 26, "../../../../tmp/x/secret")


def run(env: dict[str, str], *args: str, stdin: str | None = None,
        timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanner", "--config", env["CFG"], *args],
                          cwd=REPO, env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def cli_env(tmp_path: Path, db_url: str, base_url: str = "http://127.0.0.1:9/",
            **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NCBI_"))}
    cfg = tmp_path / "cli.toml"
    cfg.write_text(f'[policy]\ndir = "{REPO / "policies"}"\n'
                   "[eutils]\nrequests_per_second = 0\nbackoff_base = 0.01\n"
                   "backoff_max = 0.05\nmax_attempts = 2\nread_timeout = 5.0\n"
                   "[scan]\nwindow_days = 400\n")
    env.update(CFG=str(cfg), SCANNER_DATABASE_URL=db_url, SCANNER_EUTILS_URL=base_url,
               SCANNER_SCAN_START="2026-01-01", PYTHONUNBUFFERED="1", **extra)
    return env


def demo_records() -> list[bytes]:
    root = etree.parse(str(DEMO)).getroot()
    return [etree.tostring(e) for e in root.iterchildren("PubmedArticle")]


def with_pmid(raw: bytes, pmid: str) -> bytes:
    from xml.sax.saxutils import escape
    return re.sub(rb"<PMID Version=\"1\">\d+</PMID>",
                  b'<PMID Version="1">' + escape(pmid).encode() + b"</PMID>", raw, count=1)


def article_set(records: list[bytes]) -> bytes:
    return b"<?xml version='1.0'?>\n<PubmedArticleSet>\n" + b"\n".join(records) \
        + b"\n</PubmedArticleSet>\n"


def one_line_error(out: subprocess.CompletedProcess[str], code: int) -> str:
    assert out.returncode == code, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("scanner: error:")]
    assert len(lines) == 1, out.stderr[-2000:]
    return lines[0]


# -- item 2: an echoed API key ------------------------------------------------------------------
def test_an_api_key_echoed_by_the_server_is_never_printed_or_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    with ReplayServer(Corpus()) as server:
        env = cli_env(tmp_path, url, server.base_url, NCBI_API_KEY=KEY)
        assert run(env, "db", "upgrade").returncode == 0
        body = json.dumps({"error": "API key invalid", "api-key": KEY,
                           "type": "invalid", "status": "unknown"}).encode()
        server.faults.add("raw", endpoint="esearch", status=400, body=body,
                          content_type="application/json")
        out = run(env, "scan", "--until", "2026-02-01")
    line = one_line_error(out, 4)
    assert "HTTP 400" in line and '"api-key":"***"' in line.replace(" ", "")
    assert KEY not in out.stderr and KEY not in out.stdout
    env.pop("NCBI_API_KEY")
    status = run(env, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert KEY not in status.stdout and "***" in status.stdout


def test_migration_0007_scrubs_keys_stored_before(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
        conn.execute(sa.text(
            "insert into scan_runs (kind, started_at, outcome, owner, scanner_version, "
            "policy_id, policy_version, policy_sha256, query, counts, error) values "
            "('scan', '2026-11-30 00:00:00', 'failed', 'x', '1', 'p', 'v0.1', 'h', 'q', '{}', "
            ":e)"), {"e": f'esearch: HTTP 400: JSON instead of XML: {{"api-key":"{KEY}"}}'})
    engine.dispose()
    env = cli_env(tmp_path, url)
    assert run(env, "db", "upgrade").returncode == 0
    db = open_database(url, migrate=False)
    with db.read() as conn:
        error = conn.execute(sa.text("select error from scan_runs")).scalar_one()
    db.dispose()
    assert KEY not in error and '"api-key":"***"' in error


# -- item 4: PMIDs validated at parse time --------------------------------------------------
def test_records_with_bad_pmids_are_skipped_and_their_batch_mates_stored(
        tmp_path: Path) -> None:
    good = demo_records()[:2]
    good_pmids = [re.search(rb"<PMID Version=\"1\">(\d+)<", g).group(1).decode()  # type: ignore[union-attr]
                  for g in good]
    corpus = Corpus()
    for pmid, raw in zip(good_pmids, good, strict=True):
        corpus.add(pmid, raw, dt.date(2026, 1, 10))
    bad = [with_pmid(good[0], p) for p in BAD_PMIDS]
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    with ReplayServer(corpus) as server:
        server.faults.add("raw", endpoint="efetch", body=article_set([*good, *bad]),
                          content_type="text/xml")
        env = cli_env(tmp_path, url, server.base_url)
        assert run(env, "db", "upgrade").returncode == 0
        out = run(env, "scan", "--until", "2026-02-01")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stderr.count("pubmed_record_skipped") == len(BAD_PMIDS)
    db = open_database(url)
    with db.read() as conn:
        stored = set(conn.execute(sa.text("select pmid from records")).scalars())
        drafted = set(conn.execute(sa.text("select pmid from drafts")).scalars())
    db.dispose()
    assert stored == set(good_pmids)
    assert drafted <= set(good_pmids)


def test_classify_skips_bad_pmids_and_never_reads_outside_the_fulltext_dir(
        tmp_path: Path) -> None:
    good = demo_records()[:2]
    pmids = [re.search(rb"<PMID Version=\"1\">(\d+)<", g).group(1).decode()  # type: ignore[union-attr]
             for g in good]
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = "TOP SECRET post-exertional malaise sentence that must never be quoted."
    (outside / "secret.txt").write_text(secret * 3)
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / f"{pmids[0]}.txt").symlink_to(outside / "secret.txt")     # escapes DIR
    with open(texts / f"{pmids[1]}.txt", "wb") as fh:                 # 9 MB, over the cap
        fh.truncate(9_000_000)
    source = tmp_path / "in.xml"
    source.write_bytes(article_set([*good, with_pmid(good[0], "../outside/secret")]))
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'unused.sqlite'}")
    out = run(env, "classify", "--input", str(source), "--fulltext", str(texts))
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(ln) for ln in out.stdout.splitlines()]
    assert [r["pmid"] for r in lines] == pmids
    assert "TOP SECRET" not in out.stdout
    assert "links outside" in out.stderr and "over the limit of 8,000,000" in out.stderr
    assert "pubmed_record_skipped" in out.stderr
    assert not (tmp_path / "unused.sqlite").exists()


def test_classify_output_leaves_no_part_file_after_a_parse_error(tmp_path: Path) -> None:
    source = tmp_path / "broken.xml"
    source.write_bytes(article_set(demo_records()[:1])[:-40])       # truncated
    target = tmp_path / "out.jsonl"
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'unused.sqlite'}")
    out = run(env, "classify", "--input", str(source), "--output", str(target))
    one_line_error(out, 5)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == []


# -- item 8: a response size cap --------------------------------------------------------------
def test_an_oversized_reply_is_refused_with_a_clear_error(tmp_path: Path,
                                                          eutils_server: Any) -> None:
    settings = make_settings(tmp_path, eutils_server.base_url,
                             extra="max_response_bytes = 4096")
    with EutilsClient(settings.eutils, limiter=RateLimiter(0)) as client:
        found = client.esearch("chronic fatigue", mindate="2021/01/01", maxdate="2021/12/31",
                               retmax=5)
        with pytest.raises(EutilsError, match=r"response too large .*max_response_bytes"):
            client.efetch_ids(list(found.ids))
        # a chunked body with no Content-Length is cut off as it is read
        eutils_server.faults.add("raw", endpoint="efetch", body=b"<a>" + b"x" * 10_000 + b"</a>",
                                 content_type="text/xml")
        with pytest.raises(EutilsError, match="response too large"):
            client.efetch_ids(list(found.ids))
    assert len(eutils_server.requests_for("efetch")) == 2       # not retried


# -- items 9 and 10: the store -----------------------------------------------------------------
def test_a_missing_sqlite_store_is_refused_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "nested" / "store.sqlite"
    env = cli_env(tmp_path, f"sqlite:///{path}")
    for args in (("status",), ("users", "list"), ("export", "--format", "json"),
                 ("db", "current")):
        line = one_line_error(run(env, *args), 3)
        assert "no database at" in line and "scanner db upgrade" in line
    assert not (tmp_path / "typo").exists()
    created = run(env, "db", "upgrade")
    assert created.returncode == 0 and path.is_file()
    assert run(env, "status").returncode == 0


def test_database_failures_are_one_line_exit_3_without_the_password_hash(
        tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    env = cli_env(tmp_path, f"sqlite:///{path}")
    assert run(env, "db", "upgrade").returncode == 0
    ro = cli_env(tmp_path, f"sqlite:///file:{path}?mode=ro&uri=true")
    out = run(ro, "users", "add", "erin", "--role", "curator", stdin="a long password\n")
    line = one_line_error(out, 3)
    assert "readonly" in line or "read-only" in line
    assert "argon2" not in out.stderr and "INSERT" not in out.stderr
    out = run(ro, "scan", "--until", "2026-02-01")
    one_line_error(out, 3)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    out = run(cli_env(tmp_path, f"sqlite:///{blocked / 'sub' / 's.sqlite'}"), "db", "upgrade")
    assert "cannot create the database directory" in one_line_error(out, 3)
