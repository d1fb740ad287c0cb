"""Public evidence pages: `scanner publish`, the served /evidence/ pages, ask, contribute,
the evidence tier rule and the store of contributions and replicated links."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import update

from classifiers.policy import EvidenceSpec, load_policy
from scanner.cli import cli
from scanner.publish import entries as public_entries
from scanner.publish import static
from scanner.publish.contribute import is_spam
from scanner.publish.tier import grade
from scanner.review.service import Review
from scanner.store import drafts as store
from scanner.store import public
from scanner.store.db import Database, open_database
from scanner.store.models import Draft, Record
from tests.conftest import REPO, make_settings
from tests.review_helpers import build_demo, copy_demo, csrf, make_client, sign_in

SPAM = "iherb 10% discount code OPA989"
BADGES = ("PEM required", "PEM not required", "PEM mixed", "PEM unclear",
          "PEM not applicable")


# -- the rule and the checks, alone ----------------------------------------------------------

def test_tier_rule_follows_the_policy_thresholds() -> None:
    spec = EvidenceSpec()
    kw: dict[str, Any] = {"text": "", "publication_types": ["Journal Article"],
                          "replicated_by": 0, "has_pem_evidence": True, "retracted": False}
    assert grade(spec, design="observational", sample=120, **kw).title == "E2 Moderate"
    assert grade(spec, design="observational", sample=120, **kw).confidence == "high"
    assert grade(spec, design="observational", sample=60, **kw).confidence == "moderate"
    assert grade(spec, design="observational", sample=49, **kw).title == "E3 Preliminary"
    assert grade(spec, design="rct", sample=None, **kw).tier == "E3"
    assert grade(spec, design="case_report", sample=1, **kw).tier == "E3"
    assert grade(spec, design="review", sample=None, **kw).title == "E4 Context"
    assert grade(spec, design="observational", sample=80,
                 **{**kw, "text": "A pilot study of 80 adults"}).tier == "E3"
    assert grade(spec, design="observational", sample=80,
                 **{**kw, "replicated_by": 1}).title == "E1 Replicated"
    pre = grade(spec, design="observational", sample=500,
                **{**kw, "publication_types": ["Preprint"]})
    assert pre.preprint and not pre.peer_reviewed and pre.confidence == "moderate"
    assert grade(spec, design="observational", sample=500,
                 **{**kw, "retracted": True}).tier == "withdrawn"
    stricter = EvidenceSpec(small_sample=200)
    assert grade(stricter, design="observational", sample=120, **kw).tier == "E3"


def test_policies_without_an_evidence_table_get_the_defaults() -> None:
    policy = load_policy(REPO / "policies", "v0.1")
    assert policy.evidence == EvidenceSpec()


@pytest.mark.parametrize("text", [
    SPAM, "Great supplements! Use promo code SAVE20 at checkout",
    "cheap viagra buy now", "20% off everything, click here: http://a http://b http://c"])
def test_spam_is_recognised(text: str) -> None:
    assert is_spam(text)


@pytest.mark.parametrize("text", [
    "The sample size is 38 patients and 30 controls, not 68 patients.",
    "Missing paper: PMID 12345678 uses the Canadian Consensus Criteria (CCC).",
    "The badge should be PEM mixed: only a subgroup met the ICC. See https://doi.org/x"])
def test_honest_messages_are_not_spam(text: str) -> None:
    assert not is_spam(text)


def test_contributions_and_replications_store(db_url: str) -> None:
    db = open_database(db_url)
    try:
        now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
        with db.write() as conn:
            first = public.add_contribution(conn, pmid="1", kind="correction", body="x",
                                            contact=None, address_sha256="a" * 64, now=now)
            public.add_contribution(conn, pmid=None, kind="missing", body="y",
                                    contact="a@b.org", address_sha256="a" * 64, now=now)
            assert public.recent_from(conn, "a" * 64, now - dt.timedelta(hours=1)) == 2
            assert public.recent_from(conn, "b" * 64, now - dt.timedelta(hours=1)) == 0
            public.handle(conn, first, "done", "alice")
            assert public.link(conn, "20", "10", "alice")
            assert not public.link(conn, "10", "20", "bob")       # one row per pair
        with db.read() as conn:
            assert [c.body for c in public.contributions(conn)] == ["y"]
            assert public.count_new(conn) == 1
            assert public.replications(conn) == {"10": ["20"], "20": ["10"]}
    finally:
        db.dispose()


# -- over the demo store ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("publish-demo")
    build_demo(directory)
    return directory / "demo.sqlite"


@pytest.fixture
def app(demo_file: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Database, Path]]:
    url = copy_demo(demo_file, tmp_path)
    client, db = make_client(tmp_path, url)
    with client:
        yield client, db, tmp_path
    db.dispose()


def _review(tmp_path: Path, db: Database) -> Review:
    settings = make_settings(tmp_path, "http://127.0.0.1:9/", db_url=str(db.engine.url))
    return Review(settings, db, load_policy(REPO / "policies", "v0.1"))


def _pending(db: Database, **where: str) -> list[Any]:
    with db.read() as conn:
        rows, _ = store.queue(conn, store.QueueFilter(per_page=500))
    return [r for r in rows if all(getattr(r, k) == v for k, v in where.items())]


def _approve(tmp_path: Path, db: Database, pmid: str) -> None:
    with db.read() as conn:
        version = store.get(conn, pmid).version
    _review(tmp_path, db).approve(pmid, version, "alice")


def _publish(tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SCANNER_EUTILS_URL", "http://127.0.0.1:9/")
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "config.toml"), "publish",
                                      "--output", str(out), "--base-url",
                                      "https://atlas.example.org"])
    assert result.exit_code == 0, result.output
    return result.output


def test_publish_writes_approved_entries_only(app: tuple[TestClient, Database, Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _, db, tmp_path = app
    required = _pending(db, pem_label="required")[0].pmid
    unapproved = _pending(db, pem_label="mixed")[0].pmid
    _approve(tmp_path, db, required)
    out = tmp_path / "site"
    _publish(tmp_path, out, monkeypatch)
    page = (out / "evidence" / required / "index.html").read_text()
    assert ">PEM required<" in page
    with db.read() as conn:
        snapshot = store.get(conn, required).published
    quote = snapshot["badge"]["evidence"][0]["text"]
    assert f"“{quote}”" in page.replace("&#34;", '"')
    assert "<blockquote>" in page
    assert f"note = {{PubMed: {required}}}" in page
    assert f"url = {{https://atlas.example.org/evidence/{required}/}}" in page
    assert "TY  - JOUR" in page                          # RIS
    assert re.search(r"Generator \S+ \S+ / Scanner \S+ / policy v0\.1\. Accessed "
                     r"\d{4}-\d{2}-\d{2}\. https://atlas\.example\.org/evidence/", page)
    assert "Label history" in page and "Evidence tier: E" in page
    assert not (out / "evidence" / unapproved).exists()
    listed = json.loads((out / "entries.json").read_text())
    assert [e["pmid"] for e in listed] == [required]
    assert {"pmid", "title", "pem_label", "url"} <= set(listed[0])
    feed = ElementTree.parse(out / "feed.xml").getroot()
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    assert len(feed.findall("{http://www.w3.org/2005/Atom}entry")) == 1
    assert required in (out / "sitemap.xml").read_text()
    assert "pmid,title,pem_label" in (out / "entries.csv").read_text()
    assert "Canadian Consensus Criteria" in (out / "about" / "index.html").read_text()
    assert required in (out / "index.html").read_text()
    assert (out / "filter" / "pem" / "required" / "index.html").is_file()
    slug = listed[0]["slug"]
    assert f"/evidence/{required}/" in (out / "evidence" / slug / "index.html").read_text()


def test_rebuild_rewrites_only_what_changed(app: tuple[TestClient, Database, Path]) -> None:
    _, db, tmp_path = app
    policy = load_policy(REPO / "policies", "v0.1")
    first, second = [r.pmid for r in _pending(db, relevance_label="mecfs")[:2]]
    _approve(tmp_path, db, first)
    out = tmp_path / "site"

    def run() -> static.PublishReport:
        with db.read() as conn:
            entries = public_entries.collect(conn, policy)
        return static.publish(entries, out, policy, accessed=dt.date(2026, 12, 1))

    run()
    before = (out / "evidence" / first / "index.html").stat().st_mtime_ns
    again = run()
    assert again.written == [] and again.rendered == 0
    _approve(tmp_path, db, second)
    after = run()
    pages = [w for w in after.written if w.startswith("evidence/")]
    assert sorted(pages) == sorted([f"evidence/{second}/index.html",
                                    f"evidence/{after_slug(out, second)}/index.html"])
    assert after.rendered == 2      # the new entry's page and its slug redirect
    assert (out / "evidence" / first / "index.html").stat().st_mtime_ns == before
    assert "index.html" in after.written and "entries.json" in after.written


def after_slug(out: Path, pmid: str) -> str:
    listed = json.loads((out / "entries.json").read_text())
    return next(e["slug"] for e in listed if e["pmid"] == pmid)


def test_served_pages_rejected_and_retracted(app: tuple[TestClient, Database, Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    client, db, tmp_path = app
    approved = _pending(db, pem_label="required")[0].pmid
    rows = [r for r in _pending(db, relevance_label="mecfs") if r.pmid != approved]
    rejected, retracted, unapproved = (r.pmid for r in rows[:3])
    for pmid in (approved, rejected, retracted):
        _approve(tmp_path, db, pmid)
    index = client.get("/evidence/")
    assert index.status_code == 200
    for pmid in (approved, rejected, retracted):
        assert f'href="/evidence/{pmid}"' in index.text
    page = client.get(f"/evidence/{approved}")
    assert page.status_code == 200
    assert any(f">{b}<" in page.text for b in BADGES)
    assert "<blockquote>" in page.text and "@article{" in page.text
    assert "Content-Security-Policy" in page.headers
    assert client.get(f"/evidence/{unapproved}").status_code == 404
    assert client.get("/evidence/99999998").status_code == 404
    # the slug URL leads to the PMID's page
    slug = client.get(f"/evidence/some-title-words-{approved}")
    assert slug.status_code == 301 and slug.headers["location"] == f"/evidence/{approved}"
    # rejected after approval: withdrawn, 404 with the notice; gone from the static site
    out = tmp_path / "site"
    _publish(tmp_path, out, monkeypatch)
    assert (out / "evidence" / rejected / "index.html").is_file()
    with db.read() as conn:
        version = store.get(conn, rejected).version
    _review(tmp_path, db).reject(rejected, version, "bob", "Not an ME/CFS cohort.")
    gone = client.get(f"/evidence/{rejected}")
    assert gone.status_code == 404 and "withdrawn by the curators" in gone.text
    assert f'href="/evidence/{rejected}"' not in client.get("/evidence/").text
    _publish(tmp_path, out, monkeypatch)
    assert not (out / "evidence" / rejected).exists()
    assert rejected in (out / "withdrawn" / "index.html").read_text()
    # retracted upstream after approval: the sweep re-queues it; the page says so
    with db.write() as conn:
        conn.execute(update(Record).where(Record.pmid == retracted).values(is_retracted=True))
        store.requeue(conn, retracted, "retracted upstream: check the retraction notice",
                      actor="recheck")
    page = client.get(f"/evidence/{retracted}")
    assert page.status_code == 200
    assert "Retracted: this paper has been retracted" in page.text
    assert "Under review again: the paper was retracted" in page.text
    assert "Not graded (retracted)" in page.text


def test_filters_work_without_script(app: tuple[TestClient, Database, Path]) -> None:
    client, db, tmp_path = app
    required = _pending(db, pem_label="required")[0].pmid
    not_required = _pending(db, pem_label="not_required")[0].pmid
    for pmid in (required, not_required):
        _approve(tmp_path, db, pmid)
    page = client.get("/evidence/", params={"pem": "required"}).text
    assert f'href="/evidence/{required}"' in page
    assert f'href="/evidence/{not_required}"' not in page
    assert '<form method="get" action="/evidence/"' in page
    assert "<script" not in page


def _contribute(client: TestClient, pmid: str, **data: str) -> Any:
    page = client.get(f"/evidence/{pmid}")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text[:300]
    form = {"kind": "correction", "body": "", "contact": "", "website": "",
            "csrf": token.group(1), **data}
    return client.post(f"/evidence/{pmid}/contribute", data=form)


def test_contribute_reaches_curators_only(app: tuple[TestClient, Database, Path]) -> None:
    client, db, tmp_path = app
    pmid = _pending(db, relevance_label="mecfs")[0].pmid
    _approve(tmp_path, db, pmid)
    honest = "The sample was 38 patients, not 68: please check the methods."
    assert _contribute(client, pmid, body=honest).status_code == 200
    spam = _contribute(client, pmid, body=SPAM)
    assert spam.status_code == 400 and "advertising" in spam.text
    assert _contribute(client, pmid, body="x" * 4001).status_code == 400
    bot = _contribute(client, pmid, body="A fine-looking message.", website="http://x.y")
    assert bot.status_code == 200
    forged = client.post(f"/evidence/{pmid}/contribute",
                         data={"kind": "correction", "body": "forged", "csrf": "nope"})
    assert forged.status_code == 403
    with db.read() as conn:
        bodies = [c.body for c in public.contributions(conn, None)]
    assert bodies == [honest]                     # no spam, no bot, no forgery
    assert honest not in client.get(f"/evidence/{pmid}").text
    assert honest not in client.get("/evidence/entries.json").text
    for _ in range(4):
        assert _contribute(client, pmid, body="Another correction.").status_code == 200
    limited = _contribute(client, pmid, body="One too many.")
    assert limited.status_code == 429
    assert client.get("/contributions").status_code == 303      # curators only
    assert sign_in(client, "alice").status_code == 303
    assert honest in client.get("/contributions").text


def test_curators_link_replications(app: tuple[TestClient, Database, Path]) -> None:
    client, db, tmp_path = app
    rows = [r for r in _pending(db, relevance_label="mecfs") if r.design == "observational"]
    a, b = rows[0].pmid, rows[1].pmid
    for pmid in (a, b):
        _approve(tmp_path, db, pmid)
    assert sign_in(client, "alice").status_code == 303
    token = csrf(client, "/replications")
    done = client.post("/replications", data={"pmid": a, "other": b, "note": "same finding",
                                              "csrf_token": token})
    assert done.status_code == 303
    no_token = client.post("/replications", data={"pmid": a, "other": "1"})
    assert no_token.status_code == 403
    page = client.get(f"/evidence/{a}").text
    assert "Replicated by" in page and f'href="/evidence/{b}"' in page
    with db.read() as conn:
        entry = public_entries.collect(conn, load_policy(REPO / "policies", "v0.1"),
                                       pmids=[a])[0]
    assert entry["replicated_with"] == [b]
    if entry["tier"] != "E3":       # a big enough cohort: the link makes it replicated
        assert entry["tier_title"] == "E1 Replicated"


def test_ask_quotes_source_sentences(app: tuple[TestClient, Database, Path],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    client, db, tmp_path = app
    for r in _pending(db, relevance_label="mecfs"):
        _approve(tmp_path, db, r.pmid)
    monkeypatch.setenv("SCANNER_EUTILS_URL", "http://127.0.0.1:9/")
    runner = CliRunner()
    cfg = str(tmp_path / "config.toml")
    result = runner.invoke(cli, ["--config", cfg, "ask",
                                 "NK cell deficiency syndrome: is this what ME/CFS is?",
                                 "--limit", "3", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 3
    with db.read() as conn:
        texts = {r.pmid: f"{r.title}\n{r.abstract}" for r in conn.execute(
            Record.__table__.select().where(Record.pmid.in_([x["pmid"] for x in lines])))}
    for line in lines:
        assert {"pmid", "score", "quote"} <= set(line)
        assert line["quote"] and line["quote"] in texts[line["pmid"]]
    assert "natural killer" in texts[lines[0]["pmid"]].lower()
    with db.read() as conn:
        approved = {r.pmid for r in store.published(conn)}
    assert {x["pmid"] for x in lines} <= approved
    empty = runner.invoke(cli, ["--config", cfg, "ask", "   "])
    assert empty.exit_code == 2 and "empty" in empty.output
    served = client.get("/evidence/ask", params={"q": "natural killer cells"})
    assert served.status_code == 200 and "<blockquote>" in served.text


def test_no_public_page_without_approval(app: tuple[TestClient, Database, Path]) -> None:
    client, db, _ = app
    with db.read() as conn:
        pmids = [r.pmid for r in conn.execute(Draft.__table__.select())]
    for pmid in pmids[:5]:
        assert client.get(f"/evidence/{pmid}").status_code == 404
    assert "0 entries" in client.get("/evidence/").text
