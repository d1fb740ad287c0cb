"""Dual review over HTTP (pages and JSON API), on SQLite and PostgreSQL: blind decisions,
work allocation, adjudication, the audit trail, agreement figures, switching modes."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from classifiers.policy import load_policy
from scanner.cli import cli
from scanner.review.app import create_app
from scanner.store import drafts as store
from scanner.store import users
from scanner.store.db import Database, open_database
from tests.conftest import REPO, make_settings
from tests.review_helpers import PASSWORD, build_demo, copy_demo

DUAL = "v0.1-dual"


def dual_policies(directory: Path) -> Path:
    """A copy of policies/ with v0.1-dual: v0.1 with ``[review] mode = "dual"``."""
    policies = directory / "policies"
    if not policies.exists():
        shutil.copytree(REPO / "policies", policies)
        text = (policies / "v0.1.toml").read_text()
        text = text.replace('version = "v0.1"', f'version = "{DUAL}"', 1)
        (policies / f"{DUAL}.toml").write_text(text + '\n[review]\nmode = "dual"\n')
    return policies


class Site:
    """One app over one store, and a signed-in client per user."""

    def __init__(self, tmp_path: Path, url: str, version: str) -> None:
        policies = dual_policies(tmp_path)
        self.settings = make_settings(tmp_path, "http://127.0.0.1:9/", db_url=url,
                                      extra=f'[policy]\ndir = "{policies}"\n'
                                            f'active = "{version}"\n')
        self.db = open_database(url)
        self.app = create_app(self.settings, self.db, load_policy(policies, version))
        self.clients: dict[str, tuple[TestClient, str]] = {}

    def as_user(self, name: str) -> tuple[TestClient, str]:
        if name not in self.clients:
            client = TestClient(self.app, base_url="https://testserver",
                                follow_redirects=False)
            r = client.post("/api/session", json={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.clients[name] = (client, r.json()["csrf_token"])
        return self.clients[name]

    def get(self, name: str, path: str) -> Any:
        return self.as_user(name)[0].get(path)

    def etag(self, name: str, pmid: str) -> str:
        return str(self.get(name, f"/api/drafts/{pmid}").headers["etag"])

    def post(self, name: str, path: str, body: dict[str, Any], pmid: str) -> Any:
        client, token = self.as_user(name)
        return client.post(path, json=body, headers={"X-CSRF-Token": token,
                                                     "If-Match": self.etag(name, pmid)})

    def decide(self, name: str, pmid: str, **body: Any) -> Any:
        return self.post(name, f"/api/drafts/{pmid}/decision", body, pmid)

    def form(self, name: str, pmid: str, action: str, data: dict[str, Any]) -> Any:
        client, token = self.as_user(name)
        page = client.get(f"/papers/{pmid}").text
        version = re.search(r'name="version" value="(\d+)"', page)
        assert version, page[:300]
        return client.post(f"/papers/{pmid}/{action}",
                           data={"csrf_token": token, "version": version.group(1), **data})

    def queue(self, name: str, state: str = "pending") -> list[str]:
        r = self.get(name, f"/api/drafts?state={state}&page=1")
        assert r.status_code == 200, r.text
        pmids = [i["pmid"] for i in r.json()["items"]]
        assert r.json()["total"] >= len(pmids)
        return pmids

    def close(self) -> None:
        for client, _ in self.clients.values():
            client.close()
        self.db.dispose()


def add_accounts(url: str) -> None:
    db = open_database(url)
    with db.write() as conn:
        users.add_user(conn, "carol", PASSWORD, "adjudicator")
        users.add_user(conn, "dave", PASSWORD, "curator")
    db.dispose()


def draft(db: Database, pmid: str) -> Any:
    with db.read() as conn:
        return store.get(conn, pmid)


def verdict(pem: str = "required", decision: str = "approve", **more: Any) -> dict[str, Any]:
    return {"relevance": "mecfs", "pem": pem, "design": "observational", "decision": decision,
            "quote": "met the Canadian consensus criteria", **more}


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("dual-demo")
    build_demo(directory)
    add_accounts(f"sqlite:///{directory / 'demo.sqlite'}")
    return directory / "demo.sqlite"


@pytest.fixture
def site(demo_file: Path, tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path, copy_demo(demo_file, tmp_path), DUAL)
    yield s
    s.close()


def test_two_blind_decisions_a_disagreement_and_its_adjudication(
        db_url: str, tmp_path: Path) -> None:
    url = build_demo(tmp_path, db_url)
    add_accounts(url)
    site = Site(tmp_path, url, DUAL)
    try:
        _blind_dual_review(site)
    finally:
        site.close()


def _blind_dual_review(site: Site) -> None:
    pmid = site.queue("alice")[0]
    assert pmid in site.queue("bob") and pmid in site.queue("dave")
    before = draft(site.db, pmid)
    # alice decides on the page, with her own text of the summary and a quote
    r = site.form("alice", pmid, "decision", {
        "label_relevance": "mecfs", "label_pem": "required", "label_design": "observational",
        "decision": "approve", "note": "ALICE-NOTE Canadian criteria in methods",
        "quote": "ALICE-QUOTE", "summary": "ALICE-SUMMARY private text"})
    assert r.status_code == 303 and r.headers["location"].endswith("saved=waiting"), r.text
    mine = site.get("alice", f"/papers/{pmid}").text
    assert "ALICE-NOTE" in mine and "Waiting for a second curator" in mine
    assert pmid not in site.queue("alice")              # decided: out of her queue
    assert pmid in site.queue("bob")
    # the shared draft is untouched: nothing of alice's shows to bob anywhere
    after = draft(site.db, pmid)
    assert (after.version, after.fields, after.state) == (before.version, before.fields,
                                                          "pending")
    for path in (f"/papers/{pmid}", f"/api/drafts/{pmid}", f"/api/drafts/{pmid}/events",
                 f"/api/drafts/{pmid}/review", "/api/events", "/audit", "/"):
        text = site.get("bob", path).text
        assert "ALICE" not in text, path
    review = site.get("bob", f"/api/drafts/{pmid}/review").json()
    assert review["can_decide"] and review["visible_decisions"] == []
    assert review["decisions_in_round"] == 1
    # the second decision cannot be alice's
    r = site.decide("alice", pmid, **verdict())
    assert r.status_code == 400 and "already decided" in r.json()["detail"]
    # bob disagrees on PEM, through the API
    r = site.decide("bob", pmid, **verdict("not_required", note="BOB-NOTE no PEM criterion"))
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "disagreed"
    seen = {d["by"] for d in r.json()["review"]["visible_decisions"]}
    assert seen == {"alice", "bob"}                     # both decided: now each sees both
    assert draft(site.db, pmid).state == "pending"
    # a third curator never gets it for a first or second decision
    assert pmid not in site.queue("dave")
    r = site.decide("dave", pmid, **verdict())
    assert r.status_code == 400 and "two decisions" in r.json()["detail"]
    third = site.get("dave", f"/api/drafts/{pmid}/review").json()
    assert third["visible_decisions"] == [] and not third["can_adjudicate"]
    assert "ALICE" not in site.get("dave", f"/papers/{pmid}").text
    # a curator cannot adjudicate; the adjudicator's queue has it, with both side by side
    r = site.post("alice", f"/api/drafts/{pmid}/adjudication", verdict(), pmid)
    assert r.status_code == 403
    assert site.get("dave", "/api/drafts?state=adjudicate").status_code == 403
    assert pmid in site.queue("carol", "adjudicate")
    page = site.get("carol", f"/papers/{pmid}").text
    assert "ALICE-NOTE" in page and "BOB-NOTE" in page and "ALICE-SUMMARY" in page
    assert "Adjudicate" in page
    r = site.form("carol", pmid, "adjudication", {
        "label_relevance": "mecfs", "label_pem": "required", "label_design": "observational",
        "decision": "approve", "evidence": [], "note": "criteria in the methods",
        "quote": "CAROL-QUOTE", "summary": "ALICE-SUMMARY private text"})
    assert r.status_code == 303 and r.headers["location"].endswith("saved=adjudicated"), r.text
    done = draft(site.db, pmid)
    assert done.state == "approved" and done.has_published
    assert done.decided_by == "carol (adjudicating alice & bob)"
    pub = done.published
    assert pub["labels"]["pem"] == "required" and pub["fields"]["summary"].startswith("ALICE")
    assert pub["badge"]["label"] == "required" and pub["badge"]["quotes"] == ["CAROL-QUOTE"]
    assert pub["review"]["curators"] == ["alice", "bob"]
    assert pub["review"]["adjudicator"] == "carol"
    assert pub["review"]["decisions"]["bob"]["pem"] == "not_required"
    events = site.get("dave", f"/api/drafts/{pmid}/events").json()
    actors = {e["actor"] for e in events}
    assert {"alice", "bob", "carol"} <= {a.split(" ")[0] for a in actors}
    adjudicated = next(e for e in events if e["action"] == "adjudicated")
    assert adjudicated["actor"] == "carol"
    assert set(adjudicated["detail"]["decisions"]) == {"alice", "bob"}
    # once decided, everyone sees the round with the adjudication
    closed = site.get("dave", f"/api/drafts/{pmid}/review").json()["closed_rounds"]
    assert [d["by"] for d in closed[0]["decisions"]] == ["alice", "bob"]
    assert closed[0]["adjudication"]["by"] == "carol"
    assert "ALICE-NOTE" in site.get("dave", f"/papers/{pmid}").text
    assert pmid not in site.queue("carol", "adjudicate")
    # the agreement figures count the round
    fig = site.get("dave", "/api/agreement").json()
    assert fig["rounds"] == 1 and fig["adjudicated"] == 1
    assert fig["between_curators"]["overall"]["pem"]["agreement"] == 0.0
    assert fig["against_reference"]["curators"]["alice"]["pem"]["agreement"] == 1.0
    assert fig["against_reference"]["curators"]["bob"]["pem"]["agreement"] == 0.0
    # single-review operations are refused under dual review
    other = site.queue("dave")[0]
    client, token = site.as_user("dave")
    r = client.post(f"/api/drafts/{other}/approve", json={},
                    headers={"X-CSRF-Token": token, "If-Match": site.etag("dave", other)})
    assert r.status_code == 400 and "dual review" in r.json()["detail"]
    assert draft(site.db, other).state == "pending"


def test_agreeing_decisions_decide_the_draft_with_both_names(site: Site) -> None:
    pmid = site.queue("alice")[1]
    r = site.decide("alice", pmid, **verdict(fields={"summary": "Alice's summary."},
                                             evidence=[]))
    assert r.json()["outcome"] == "waiting"
    r = site.decide("bob", pmid, **verdict())
    assert r.status_code == 200 and r.json()["outcome"] == "agreed", r.text
    d = draft(site.db, pmid)
    assert d.state == "approved" and d.decided_by == "alice & bob"
    assert d.published["fields"]["summary"] == "Alice's summary."     # only she edited
    assert d.published["review"]["curators"] == ["alice", "bob"]
    assert d.published["review"]["adjudicator"] is None
    assert pmid not in site.queue("carol", "adjudicate")


def test_both_reject_and_bad_input_is_refused_with_one_line(site: Site) -> None:
    pmid = site.queue("alice")[2]
    r = site.decide("alice", pmid, **verdict(decision="reject"))
    assert r.status_code == 400 and "reason" in r.json()["detail"]
    r = site.decide("alice", pmid, **verdict(pem="sometimes"))
    assert r.status_code == 400 and "not a pem label" in r.json()["detail"]
    r = site.decide("alice", pmid, **verdict(evidence=["nope"]))
    assert r.status_code == 400 and "unknown case definition" in r.json()["detail"]
    r = site.decide("alice", pmid, **verdict(quote=""))
    assert r.status_code == 400 and "no evidence, no claim" in r.json()["detail"]
    client, token = site.as_user("alice")
    r = client.post(f"/api/drafts/{pmid}/decision", json=verdict(),
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 428
    r = site.decide("alice", pmid, **verdict(decision="reject", note="animal study"))
    assert r.json()["outcome"] == "waiting"
    r = site.decide("bob", pmid, **verdict(decision="reject", note="animal model"))
    assert r.json()["outcome"] == "agreed"
    d = draft(site.db, pmid)
    assert d.state == "rejected" and d.reject_reason == "animal study; animal model"
    with site.db.read() as conn:
        assert not any(p.pmid == pmid for p in store.published(conn))


def test_switching_between_single_and_dual_never_loses_a_decision(
        demo_file: Path, tmp_path: Path) -> None:
    url = copy_demo(demo_file, tmp_path)
    single = Site(tmp_path, url, "v0.1")
    approved = single.queue("alice")[0]
    r = single.post("alice", f"/api/drafts/{approved}/approve", {}, approved)
    assert r.status_code == 200, r.text
    single.close()
    dual = Site(tmp_path, url, DUAL)
    assert draft(dual.db, approved).state == "approved"        # stays published
    assert approved not in dual.queue("bob")
    half = dual.queue("alice")[0]
    assert dual.decide("alice", half, **verdict(note="ALICE-HALF")).json()["outcome"] == \
        "waiting"
    dual.close()
    # back to single: alice's decision is kept; bob approves as a single curator
    single = Site(tmp_path, url, "v0.1")
    assert "ALICE-HALF" not in single.get("bob", f"/papers/{half}").text   # still blind
    r = single.post("bob", f"/api/drafts/{half}/approve", {}, half)
    assert r.status_code == 200, r.text
    kept = single.get("bob", f"/api/drafts/{half}/review").json()["closed_rounds"]
    assert kept[0]["decisions"][0]["by"] == "alice"
    assert kept[0]["decisions"][0]["note"] == "ALICE-HALF"
    single.close()
    # dual again, the draft re-queued: a new round, alice may decide it again
    dual = Site(tmp_path, url, DUAL)
    with dual.db.write() as conn:
        store.requeue(conn, half, "record changed")
    assert half in dual.queue("alice")
    assert draft(dual.db, half).has_published                   # the approval stays published
    assert draft(dual.db, approved).state == "approved"
    dual.close()


def test_scanner_agreement_cli_and_adjudicator_role(site: Site, tmp_path: Path) -> None:
    pmid = site.queue("alice")[3]
    site.decide("alice", pmid, **verdict())
    site.decide("bob", pmid, **verdict("mixed"))
    cfg = str(tmp_path / "config.toml")
    runner = CliRunner(env={"SCANNER_EUTILS_URL": "http://127.0.0.1:9/",
                            "SCANNER_PASSWORD": PASSWORD})
    result = runner.invoke(cli, ["--config", cfg, "agreement", "--json"])
    assert result.exit_code == 0, result.output
    fig = json.loads(result.output)
    assert fig["policy"] == DUAL and fig["review_mode"] == "dual" and fig["rounds"] == 1
    assert fig["between_curators"]["pairs"]["alice & bob"]["pem"]["agreement"] == 0.0
    assert "bootstrap" in fig["confidence_intervals"]
    text = runner.invoke(cli, ["--config", cfg, "agreement"])
    assert text.exit_code == 0 and "between curators:" in text.output
    result = runner.invoke(cli, ["--config", cfg, "users", "add", "erin", "--role",
                                 "adjudicator"])
    assert result.exit_code == 0 and "added adjudicator erin" in result.output
    dash = site.get("dave", "/dashboard").text
    assert "Dual review: agreement" in dash and "<svg" in dash and "<script" not in dash


def test_openapi_documents_dual_review(site: Site) -> None:
    spec = site.get("alice", "/api/openapi.json").json()
    for path in ("/api/drafts/{pmid}/decision", "/api/drafts/{pmid}/adjudication",
                 "/api/drafts/{pmid}/review", "/api/agreement"):
        assert path in spec["paths"], path
    body = spec["components"]["schemas"]["VerdictBody"]["properties"]
    assert {"relevance", "pem", "design", "decision", "evidence", "note", "fields"} <= set(body)


def test_migration_0009_upgrades_a_0006_store_and_downgrades(db_url: str) -> None:
    import sqlalchemy as sa
    from alembic import command

    from scanner.store.db import _alembic_config, head_revision

    db = Database(db_url)
    with db.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
    upgraded = open_database(db_url)
    assert upgraded.current_revision() == head_revision()  # 0009 and every later one
    inspector = sa.inspect(upgraded.engine)
    assert "review_round" in {c["name"] for c in inspector.get_columns("drafts")}
    assert {"review_decisions", "review_adjudications"} <= set(inspector.get_table_names())
    with upgraded.engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0006")
    inspector = sa.inspect(upgraded.engine)
    assert "review_round" not in {c["name"] for c in inspector.get_columns("drafts")}
    assert "review_decisions" not in inspector.get_table_names()
    upgraded.dispose()
    db.dispose()
