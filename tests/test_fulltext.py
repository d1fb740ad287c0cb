# ruff: noqa: E501  (PubMed XML written out in full)
"""Full-text escalation: passages, reference-number criteria, offsets, the policy pin."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from classifiers.document import FullText, from_jats, from_plain, normalised_view
from classifiers.fulltext_reader import build_reading, classify_with_fulltext, resolve_reference
from classifiers.pem import Definition, PemClassifier, PemResult
from classifiers.policy import load_policy

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures" / "fulltext"
FULLTEXT_TABLE = '\n[fulltext]\nescalate = true\nescalate_labels = ["unclear"]\n' \
    'sources = ["pmc"]\nreader = "passages-1"\n'


@pytest.fixture(scope="module")
def pem() -> PemClassifier:
    pol = load_policy(REPO / "policies", "v0.1")
    return PemClassifier([Definition(d.id, d.name, d.pem, d.patterns, d.ambiguous)
                          for d in pol.case_definitions], weak_as=pol.pem.weak_as)


def policy_dir(tmp_path: Path, version: str = "v0.1") -> Path:
    """A copy of policy v0.1 with a ``[fulltext]`` table (artifacts linked, not copied)."""
    d = tmp_path / "policies"
    d.mkdir()
    (d / "artifacts").symlink_to(REPO / "policies" / "artifacts")
    (d / f"{version}.toml").write_text((REPO / "policies" / "v0.1.toml").read_text()
                                       .replace('version = "v0.1"', f'version = "{version}"')
                                       + FULLTEXT_TABLE)
    return d


def classify(pem: PemClassifier, doc: FullText | None) -> PemResult:
    assert doc is not None
    return classify_with_fulltext(pem, {"title": "", "abstract": ""}, doc, cohort=True)


def test_jats_nested_sections_and_reference_number_criteria(pem: PemClassifier) -> None:
    doc = from_jats((FIX / "PMC9000001.xml").read_bytes())
    assert doc is not None
    kinds = {(s.title, s.kind) for s in doc.sections}
    assert ("Materials and methods", "methods") in kinds
    assert ("Participants", "eligibility") in kinds
    assert ("Introduction", "end") in kinds
    reading = build_reading(doc, pem)
    assert "earlier study" not in reading.text          # the introduction is not read
    assert {d for _, _, d in reading.cited} == {"fukuda_1994", "icc_2011"}
    res = classify(pem, doc)
    assert res.label == "required"                      # Fukuda and ICC: all met both
    ids = {(u.id, u.role) for u in res.definitions}
    assert ("fukuda_1994", "inclusion") in ids and ("icc_2011", "inclusion") in ids
    for u in res.definitions:
        assert doc.text[u.evidence.start:u.evidence.end] == u.evidence.text
        assert u.evidence.source == "fulltext"


def test_jats_table_of_eligibility_criteria(pem: PemClassifier) -> None:
    doc = from_jats((FIX / "PMC9000002.xml").read_bytes())
    assert doc is not None
    assert any(s.kind == "table" and "Eligibility" in s.title for s in doc.sections)
    res = classify(pem, doc)
    assert res.label == "required"
    (use,) = [u for u in res.definitions if u.role == "inclusion"]
    assert use.id == "ccc_2003" and "Canadian Consensus Criteria" in use.evidence.text


def test_jats_without_body_is_no_fulltext() -> None:
    assert from_jats((FIX / "PMC9000003.xml").read_bytes()) is None


def test_plain_pdf_text_normalised_offsets_exact(pem: PemClassifier) -> None:
    raw = (FIX / "plain_pdf.txt").read_text(encoding="utf-8")
    view = normalised_view(raw)
    assert "fulfilled" in view.text and "\ufb01" not in view.text        # ligature
    assert "Controls were" in view.text                                 # hyphenation joined
    assert "comprehensive approach" in view.text
    assert "J Test Fatigue" not in view.text and "\n102\n" not in view.text  # heads, pages
    doc = from_plain(raw)
    assert doc.text == raw
    assert set(doc.references) == {"1", "2", "3", "4"}
    assert resolve_reference(doc.references["3"]) == "fukuda_1994"
    assert resolve_reference(doc.references["4"]) == "icc_2011"
    res = classify(pem, doc)
    # Fukuda plus an explicit PEM requirement -> required; the ICC was only assessed
    # (characterisation), the Oxford criteria are the introduction's background
    assert res.label == "required", res.reason
    roles = {(u.id, u.role) for u in res.definitions}
    assert ("fukuda_1994", "inclusion") in roles
    assert ("icc_2011", "background") in roles
    assert not any(u.id == "oxford_1991" for u in res.definitions)
    for u in res.definitions:
        assert raw[u.evidence.start:u.evidence.end] == u.evidence.text
    fuk = next(u for u in res.definitions if u.id == "fukuda_1994")
    assert "ful\ufb01lled the Fukuda criteria" in fuk.evidence.text   # as read, ligature kept


def test_plain_without_methods_section_falls_back_to_sentences(pem: PemClassifier) -> None:
    raw = (FIX / "plain_no_methods.txt").read_text(encoding="utf-8")
    res = classify(pem, from_plain(raw))
    assert res.label == "mixed"                          # "CCC and/or Fukuda": a union
    assert "no methods section" in res.reason
    for u in res.definitions:
        assert raw[u.evidence.start:u.evidence.end] == u.evidence.text


def test_two_cohorts_with_different_rules(pem: PemClassifier) -> None:
    res = classify(pem, from_plain((FIX / "plain_cohorts.txt").read_text()))
    assert res.label == "mixed"


@pytest.mark.parametrize("sentence,label", [
    ("Patients met either or both of the Fukuda criteria and the Canadian Consensus "
     "Criteria.", "mixed"),
    ("Patients met the Fukuda criteria and had post-exertional malaise as an added "
     "requirement; all were required to report post-exertional malaise.", "required"),
    ("In a previous study, patients who met the Canadian Consensus Criteria were tested. "
     "Here, patients met the Fukuda criteria.", "not_required"),
    ("Patients met the Fukuda criteria. The proportion of patients meeting the "
     "International Consensus Criteria was recorded as an outcome.", "not_required"),
])
def test_methods_traps(pem: PemClassifier, sentence: str, label: str) -> None:
    raw = f"Methods\n{sentence}\nResults\nNothing.\n"
    res = classify(pem, from_plain(raw))
    assert res.label == label, res.reason


def test_policy_fulltext_table_optional(tmp_path: Path) -> None:
    assert load_policy(REPO / "policies", "v0.1").fulltext is None
    pol = load_policy(policy_dir(tmp_path, "v0.1-ft"), "v0.1-ft")
    assert pol.fulltext is not None and pol.fulltext.reader == "passages-1"


def _pubmed_xml(pmid: str, abstract: str, pmcid: str | None = None) -> str:
    ids = f'<ArticleId IdType="pubmed">{pmid}</ArticleId>'
    if pmcid:
        ids += f'<ArticleId IdType="pmc">{pmcid}</ArticleId>'
    return f"""<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">
<PMID Version="1">{pmid}</PMID><DateRevised><Year>2021</Year><Month>06</Month><Day>01</Day></DateRevised>
<Article PubModel="Print"><Journal><JournalIssue><PubDate><Year>2021</Year></PubDate></JournalIssue>
<Title>Test Journal</Title></Journal>
<ArticleTitle>Heart rate and exercise in myalgic encephalomyelitis/chronic fatigue syndrome</ArticleTitle>
<Abstract><AbstractText>{abstract}</AbstractText></Abstract>
<AuthorList><Author><LastName>Test</LastName><ForeName>A</ForeName></Author></AuthorList>
<Language>eng</Language><PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType></PublicationTypeList>
</Article></MedlineCitation><PubmedData><History>
<PubMedPubDate PubStatus="entrez"><Year>2021</Year><Month>6</Month><Day>2</Day><Hour>6</Hour><Minute>0</Minute></PubMedPubDate>
</History><PublicationStatus>ppublish</PublicationStatus><ArticleIdList>{ids}</ArticleIdList></PubmedData></PubmedArticle>"""


ABSTRACT = ("Patients with myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) and "
            "healthy controls completed two exercise tests on consecutive days. ME/CFS "
            "patients showed a lower workload on the second day than controls.")


def _input(tmp_path: Path) -> Path:
    xml = tmp_path / "in.xml"
    xml.write_text("<?xml version=\"1.0\"?>\n<PubmedArticleSet>\n"
                   + _pubmed_xml("99100001", ABSTRACT, "PMC9000001")
                   + _pubmed_xml("99100002", ABSTRACT, "PMC9000003")
                   + _pubmed_xml("99100003", ABSTRACT) + "\n</PubmedArticleSet>\n")
    return xml


def test_classify_fulltext_contract_offsets_index_txt(tmp_path: Path) -> None:
    from scanner.policy.classify import classify_file

    pol = load_policy(policy_dir(tmp_path, "v0.1-ft"), "v0.1-ft")
    ftdir = tmp_path / "ft"
    ftdir.mkdir()
    shutil.copy(FIX / "plain_pdf.txt", ftdir / "99100001.txt")
    shutil.copy(FIX / "PMC9000002.xml", ftdir / "99100002.xml")
    out = tmp_path / "out.jsonl"
    classify_file(pol, _input(tmp_path), out, ftdir)
    rows = {r["pmid"]: r for r in map(json.loads, out.read_text().splitlines())}
    # the abstract alone is unclear; the pinned relevance model reads it as ME/CFS, so it
    # is escalated
    assert rows["99100001"]["relevance"]["label"] == "mecfs"
    txt = (ftdir / "99100001.txt").read_bytes().decode("utf-8")
    r1 = rows["99100001"]
    assert r1["pem"]["label"] == "required"
    evs = [d["evidence"] for d in r1["pem"]["definitions"] if d["evidence"]["source"] == "fulltext"]
    assert evs and all(txt[e["start"]:e["end"]] == e["text"] for e in evs)
    assert rows["99100002"]["pem"]["label"] == "required"
    assert rows["99100003"]["pem"]["label"] == "unclear"
    assert "no full text 99100003.xml or 99100003.txt" in rows["99100003"]["pem"]["reason"]


def test_v01_without_fulltext_table_reads_whole_text(tmp_path: Path) -> None:
    """Policy v0.1 has no [fulltext]: --fulltext reads every given text whole, as before."""
    from classifiers.paper import Paper
    from classifiers.pipeline import PaperClassifier

    pol = load_policy(REPO / "policies", "v0.1")
    clf = PaperClassifier(pol)
    raw = (FIX / "plain_pdf.txt").read_text()
    r = clf.classify([Paper("1", "t", ABSTRACT)], [raw])[0]
    for d in r["pem"]["definitions"]:
        if d["evidence"]["source"] == "fulltext":
            assert raw[d["evidence"]["start"]:d["evidence"]["end"]] == d["evidence"]["text"]
    assert "full text read" not in r["pem"]["reason"]


@contextmanager
def scan_with_pmc(tmp_path: Path, version: str, policies: Path | None = None
                  ) -> Iterator[SimpleNamespace]:
    """Scan ``_input``'s three records from a replay server whose PMC replies come from
    ``FIX``, under policy ``version``; yields the store, policy, classifier, stored
    results and full texts, PMC requests, and the live server (for a rerun)."""
    import datetime as dt

    from sqlalchemy import select

    from scanner.ingest.scan import Scanner
    from scanner.policy.classify import policy_classifier
    from scanner.pubmed.eutils import EutilsClient
    from scanner.pubmed.ratelimit import RateLimiter
    from scanner.replay import Corpus, ReplayServer
    from scanner.store.db import open_database
    from scanner.store.models import Classification, FullTextRow
    from tests.conftest import make_settings

    corpus = Corpus.from_files([_input(tmp_path)])
    where = f'dir = "{policies}"\n' if policies else ""
    with ReplayServer(corpus) as server:
        server.pmc_dir = FIX
        settings = make_settings(tmp_path, server.base_url,
                                 extra=f'[policy]\n{where}active = "{version}"\n')
        db = open_database(settings.database_url)
        policy = load_policy(settings.policy_dir, version)
        client = EutilsClient(settings.eutils, limiter=RateLimiter(0), sleep=lambda _s: None)
        clf = policy_classifier(policy)
        Scanner(settings, db, policy, client, today=lambda: dt.date(2021, 6, 15),
                progress=False, classifier=clf).run(since=dt.date(2021, 6, 1))
        with db.read() as conn:
            results = {c.pmid: c.result for c in conn.execute(
                select(Classification.__table__))}
            texts = {t.pmid: t for t in conn.execute(select(FullTextRow.__table__))}
        yield SimpleNamespace(
            db=db, policy=policy, clf=clf, results=results, texts=texts, server=server,
            pmc_calls=[r for r in server.requests_for("efetch") if "pmc" in str(r)])


def test_scan_escalates_unclear_to_required_from_pmc(tmp_path: Path) -> None:
    with scan_with_pmc(tmp_path, "v0.1-ft", policy_dir(tmp_path, "v0.1-ft")) as scan:
        db, policy, clf, results, texts = (scan.db, scan.policy, scan.clf, scan.results,
                                           scan.texts)
        pmc_calls = scan.pmc_calls
    # the pinned relevance model reads the test abstract as ME/CFS (else no escalation)
    assert results["99100001"]["relevance"]["label"] == "mecfs"
    assert pmc_calls
    r1 = results["99100001"]["pem"]
    assert r1["label"] == "required"
    assert any(d["evidence"]["source"] == "fulltext" for d in r1["definitions"])
    assert texts["99100001"].status == "ok" and texts["99100001"].pmcid == "PMC9000001"
    assert texts["99100001"].sha256 and len(texts["99100001"].sha256) == 64
    r2 = results["99100002"]["pem"]                 # PMC has it, but with no article body
    assert r2["label"] == "unclear" and "no open-access full text in PMC" in r2["reason"]
    assert texts["99100002"].status == "unavailable"
    r3 = results["99100003"]["pem"]                 # no PMCID at all
    assert r3["label"] == "unclear" and "no PMCID" in r3["reason"]
    # A rerun reads the stored full text (no request): the same labels and evidence.
    from scanner.policy.rerun import rerun
    report = rerun(db, policy, clf, verify=True, ledger=False)
    assert report.compared == len(results) and report.ok, report.summary()
