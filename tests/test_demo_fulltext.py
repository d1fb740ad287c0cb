"""The demo decides a paper from its PMC methods: under a policy with ``[fulltext]`` the
demo scan fetches the synthetic JATS of record 99000005 (data/demo/pmc/) from the replay
server, and the PEM label comes from the methods; a rerun reproduces it without a request."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from classifiers.policy import load_policy
from scanner.ops.demo import scan_demo
from scanner.policy.classify import policy_classifier
from scanner.policy.rerun import rerun
from scanner.store.models import Classification, FullTextRow
from tests.conftest import make_settings


def test_demo_record_decided_from_pmc_methods(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    settings = make_settings(tmp_path, "http://127.0.0.1:9/", db_url=url,
                             extra='[policy]\nactive = "v0.2"\n')
    lines: list[str] = []
    db = scan_demo(settings, url, echo=lines.append)
    with db.read() as conn:
        results = {c.pmid: c.result for c in conn.execute(
            select(Classification.__table__).where(Classification.policy_version == "v0.2"))}
        texts = {t.pmid: t for t in conn.execute(select(FullTextRow.__table__))}
    pem = results["99000005"]["pem"]
    assert pem["label"] == "required", pem["reason"]
    assert "full text read" in pem["reason"]
    ft = [d for d in pem["definitions"] if d["evidence"]["source"] == "fulltext"]
    assert ft and {d["id"] for d in ft} == {"ccc_2003"}
    assert texts["99000005"].status == "ok" and texts["99000005"].pmcid == "PMC99100005"
    # a demo record with a PMCID but no open-access text in the demo: kept unclear, said why
    assert results["99000028"]["pem"]["label"] == "unclear"
    policy = load_policy(settings.policy_dir, "v0.2")
    report = rerun(db, policy, policy_classifier(policy), verify=True, ledger=False)
    assert report.ok, report.summary()
