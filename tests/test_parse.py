"""Tests of scanner.pubmed.parse against the real PubMed XML in shared/data (read in place)."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.errors import ParseError
from scanner.pubmed.parse import (
    AbstractSection,
    CommentCorrection,
    DeletedCitations,
    ParsedRecord,
    PubmedXMLError,
    iter_pubmed_xml,
    parse_pubmed_xml,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
METAPUB = "eutils_fixtures/metapub_pmid_xml"
UPDATE_FILE = "pubmed_xml/pubmed21n1298.xml.gz"


def data_file(rel: str | None = None) -> Path:
    """Path of a file in shared/data; skip (fail when $CI is set) if the data is absent."""
    if not DATA_DIR.is_dir():
        reason = f"shared PubMed test data not found at {DATA_DIR}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required when CI is set)")
        pytest.skip(reason)
    path = DATA_DIR / rel if rel else DATA_DIR
    if not path.exists():
        pytest.fail(f"shared data file missing: {path}")
    return path


def _glob(*patterns: str) -> list[str | None]:
    """Data files (relative to DATA_DIR) for parametrize; [None] when the data is absent."""
    if not DATA_DIR.is_dir():
        return [None]
    return [str(p.relative_to(DATA_DIR)) for pat in patterns for p in sorted(DATA_DIR.glob(pat))]


def _raw(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _metapub(pmid: str) -> ParsedRecord:
    (rec,) = parse_pubmed_xml(data_file(f"{METAPUB}/{pmid}.xml").read_bytes())
    assert isinstance(rec, ParsedRecord)
    return rec


START_TAG = re.compile(rb"<(?:PubmedArticle|PubmedBookArticle)[\s>]")

# The update file is covered once, by the subprocess summary further down (it takes seconds).
CORPUS = [p for p in _glob("pubmed_xml/*.xml.gz", f"{METAPUB}/*.xml",
                           "eutils_fixtures/biopython/Entrez/pubmed*.xml",
                           "eutils_fixtures/ncbi_eutils_json_samples/efetch.pubmed*.xml")
          if p != UPDATE_FILE]


@pytest.mark.parametrize("rel", CORPUS)
def test_every_shared_file_parses_completely(rel: str | None) -> None:
    path = data_file(rel)
    raw = _raw(path)
    records = list(iter_pubmed_xml(path))
    assert len(records) == len(START_TAG.findall(raw))
    for rec in records:
        assert isinstance(rec, ParsedRecord)
        assert rec.pmid.isdigit()
        assert re.search(rb"<PMID[^>]*>" + rec.pmid.encode() + rb"</PMID>", rec.raw_xml)
        assert rec.raw_xml.startswith(b"<PubmedArticle>" if rec.kind == "article"
                                      else b"<PubmedBookArticle>")
        # CRDT is PubStatus="entrez", EDAT is PubStatus="pubmed" (see parse.CRDT_STATUS).
        if b'PubStatus="entrez"' in rec.raw_xml:
            assert isinstance(rec.create_date, dt.date)
        if b'PubStatus="pubmed"' in rec.raw_xml:
            assert isinstance(rec.entry_date, dt.date)
        assert rec.title == " ".join(rec.title.split())
        if rec.abstract_sections:
            assert rec.abstract.count("\n") == len(rec.abstract_sections) - 1
        # to_dict is JSON-ready and from_dict inverts it exactly.
        d = rec.to_dict()
        assert "raw_xml" not in d
        assert ParsedRecord.from_dict(json.loads(json.dumps(d)), rec.raw_xml) == rec
        # raw_xml is self-contained: parsing it again gives the same record.
        (again,) = parse_pubmed_xml(b"<PubmedArticleSet>" + rec.raw_xml + b"</PubmedArticleSet>")
        assert again == rec


# --------------------------------------------------------------------------- Bio.Entrez

_INLINE_TAG = re.compile(r"</?(?:i|b|u|sup|sub|mml:\w+)(?:\s[^>]*)?/?>")
_MATHML = re.compile(r"<math\b.*?</math>", re.S)


def _flat(value: object) -> str:
    """Bio.Entrez keeps inline markup as literal tags; flatten it the way the parser does."""
    text = _MATHML.sub(lambda m: re.sub(r"<[^>]+>", "", m.group()), str(value))
    return " ".join(_INLINE_TAG.sub("", text).split())


def _with_doctype(rel: str | None) -> bool:
    return rel is None or b"<!DOCTYPE" in (DATA_DIR / rel).read_bytes()[:400]


ENTREZ_FILES = [p for p in _glob("eutils_fixtures/biopython/Entrez/pubmed*.xml",
                                 f"{METAPUB}/*.xml") if _with_doctype(p)]


@pytest.mark.parametrize("rel", ENTREZ_FILES)
def test_agrees_with_bio_entrez(rel: str | None) -> None:
    from Bio import Entrez

    path = data_file(rel)
    with path.open("rb") as fh:
        theirs = Entrez.read(fh)   # bundled DTDs; no network
    ours = [r for r in iter_pubmed_xml(path) if isinstance(r, ParsedRecord)]
    assert [r.pmid for r in ours if r.kind == "article"] == [
        str(a["MedlineCitation"]["PMID"]) for a in theirs["PubmedArticle"]]
    for rec, art in zip((r for r in ours if r.kind == "article"), theirs["PubmedArticle"],
                        strict=True):
        mc = art["MedlineCitation"]
        article = mc["Article"]
        ids = {str(i.attributes["IdType"]): str(i) for i in art["PubmedData"]["ArticleIdList"]}
        eloc_doi = next((str(e) for e in article.get("ELocationID", [])
                         if e.attributes["EIdType"] == "doi"), None)
        assert rec.title == (_flat(article["ArticleTitle"])
                             or _flat(article.get("VernacularTitle", "")))
        assert rec.doi == (ids.get("doi") or eloc_doi)
        assert rec.pmcid == ids.get("pmc")
        assert len(rec.authors) == len(article.get("AuthorList", []))
        assert [m.descriptor for m in rec.mesh] == [
            _flat(h["DescriptorName"]) for h in mc.get("MeshHeadingList", [])]
        assert [m.major for m in rec.mesh] == [
            h["DescriptorName"].attributes["MajorTopicYN"] == "Y"
            for h in mc.get("MeshHeadingList", [])]
        assert list(rec.publication_types) == [_flat(p) for p in article["PublicationTypeList"]]
        sections = article.get("Abstract", {}).get("AbstractText", [])
        expected = [(s.attributes.get("Label") or None, _flat(s)) for s in sections]
        assert [(s.label, s.text) for s in rec.abstract_sections] == [
            e for e in expected if e[1]]


# --------------------------------------------------------------------------- specific records

def test_inline_markup_is_flattened_exactly() -> None:
    assert _metapub("38914053").title == (
        "Doped SnO2thin films fabricated at low temperature by atomic layer deposition with a "
        "precise incorporation of niobium atoms.")
    assert _metapub("38648015").title == (
        "Sequence- and Structure-Dependent Cytotoxicity of Phosphorothioate and 2'-O-Methyl "
        "Modified Single-Stranded Oligonucleotides.")
    assert _metapub("37167981").title == (
        "Monte Carlo simulation of micro-x-ray fluorescence (\u03bc-XRF) based detection of "
        "immunomagnetically labeled tumor cells.")
    abstract = _metapub("33119379").abstract
    assert abstract.startswith("Purpose/Objective: To describe the psychometrics")
    assert "<" not in abstract
    assert "Nb-doped SnO2(NTO) thin films" in _metapub("38914053").abstract
    assert "\n" not in abstract


def test_labelled_abstract_sections() -> None:
    rec = _metapub("15764155")
    assert [(s.label, s.category) for s in rec.abstract_sections] == [
        ("OBJECTIVE", "OBJECTIVE"), ("MATERIAL AND METHODS", "METHODS"),
        ("RESULTS", "RESULTS"), ("CONCLUSIONS", "CONCLUSIONS")]
    lines = rec.abstract.split("\n")
    assert len(lines) == 4
    assert lines[1].startswith("MATERIAL AND METHODS: The N34S and P55S mutations")
    assert lines == [f"{s.label}: {s.text}" for s in rec.abstract_sections]
    # Offsets computed on `abstract` find each section's text where the label says.
    start = rec.abstract.index(rec.abstract_sections[2].text)
    assert rec.abstract[:start].endswith("\nRESULTS: ")


def test_mesh_ids_and_comments() -> None:
    rec = _metapub("23435529")
    assert rec.doi == "10.1007/s10815-013-9951-y"
    assert rec.pmcid == "PMC3644128"
    frag = next(m for m in rec.mesh if m.descriptor == "DNA Fragmentation")
    assert (frag.ui, frag.major, frag.qualifiers) == ("D053938", True, ())
    asth = next(m for m in rec.mesh if m.descriptor == "Asthenozoospermia")
    assert (asth.major, asth.qualifiers) == (False, ("genetics", "metabolism"))
    # `major` is the descriptor's flag only: 3 headings here are major through a starred
    # qualifier (e.g. FSH/administration & dosage*), which PubMed's [majr] would also count.
    assert [m.descriptor for m in rec.mesh if m.major] == ["DNA Fragmentation"]
    assert rec.status == "MEDLINE"
    assert rec.pub_date == "2013-04" and rec.pub_year == 2013

    erratum = _metapub("35649368")
    assert erratum.comments_corrections == (CommentCorrection(
        "ErratumIn", "Cell Rep. 2022 Jun 28;39(13):111044. doi: 10.1016/j.celrep.2022.111044.",
        "35767954"),)
    assert not erratum.is_retracted
    assert erratum.doi == "10.1016/j.celrep.2022.110870"
    assert erratum.create_date == dt.date(2022, 6, 1)        # entrez = CRDT (18:23)
    assert erratum.entry_date == dt.date(2022, 6, 2)         # pubmed = EDAT (06:00)
    no_pmid = _metapub("23985001").comments_corrections
    assert no_pmid == (CommentCorrection(
        "ErratumIn", "Expert Rev Gastroenterol Hepatol. 2013 Nov;7(8):767", None),)
    orcid_author = _metapub("38147649").authors[0]
    assert orcid_author.orcid == "0000-0002-7367-292X"
    assert len(orcid_author.affiliations) == 2


def test_book_article() -> None:
    rec = _metapub("20301546")
    assert rec.kind == "book"
    assert rec.title == ("Hereditary Motor and Sensory Neuropathy with Agenesis of the "
                         "Corpus Callosum")
    assert rec.journal == "GeneReviews\u00ae"          # BookTitle with <sup>&#174;</sup>
    assert [a.last_name for a in rec.authors] == ["Gauvreau", "Brisson", "Dupr\u00e9"]  # no editors
    assert rec.authors[0].affiliations[0].startswith("Neurology resident, CHU de Qu\u00e9bec")
    assert [s.label for s in rec.abstract_sections] == [
        "CLINICAL CHARACTERISTICS", "DIAGNOSIS/TESTING", "MANAGEMENT", "GENETIC COUNSELING"]
    assert "biallelic pathogenic variants in SLC12A6 identified" in rec.abstract
    assert rec.abstract.split("\n")[2].startswith(
        "MANAGEMENT: Treatment of manifestations: Walking aids")
    assert rec.publication_types == ("Review",)
    assert rec.pub_year == 1993 and rec.pub_date == "1993"
    assert rec.create_date == rec.entry_date == dt.date(2020, 9, 17)
    assert rec.date_revised == dt.date(2020, 9, 17)
    assert rec.pmcid is None and rec.doi is None   # PMC ids in its ReferenceList don't leak
    assert rec.status is None and rec.language == "eng" and rec.mesh == ()
    assert "SLC12A6" in rec.keywords


def test_book_without_chapter_title_uses_book_title() -> None:
    path = data_file("eutils_fixtures/ncbi_eutils_json_samples/efetch.pubmedbook.xml")
    (rec,) = iter_pubmed_xml(path)
    assert isinstance(rec, ParsedRecord)
    assert (rec.pmid, rec.kind, rec.title) == ("20301295", "book", "GeneReviews\u2122")
    assert rec.create_date == rec.entry_date == dt.date(2010, 3, 20)
    # NCBI's contrived "all permutations" sample has the same book without an "entrez" date.
    path = data_file("eutils_fixtures/ncbi_eutils_json_samples/efetch.pubmedexample.xml")
    article, book = iter_pubmed_xml(path)
    assert isinstance(book, ParsedRecord) and isinstance(article, ParsedRecord)
    assert (book.pmid, book.create_date, book.entry_date) == (
        "20301295", None, dt.date(2010, 3, 20))
    assert article.abstract == "dummy-label: Lorem ipsum and ipsum lorem."
    assert article.keywords == ("Krazy Kool", "The Snap!")   # OtherAbstract is left out


def test_empty_set_yields_nothing() -> None:
    assert parse_pubmed_xml(data_file(f"{METAPUB}/37909814.xml").read_bytes()) == []
    assert parse_pubmed_xml(b"<PubmedArticleSet/>") == []


# --------------------------------------------------------------------------- the update file

_SUMMARY_SCRIPT = r"""
import gzip, json, re, resource, sys, time
from scanner.pubmed.parse import DeletedCitations, iter_pubmed_xml

path, wanted = sys.argv[1], set(sys.argv[2].split(","))
scale = 1 if sys.platform != "darwin" else 1024          # ru_maxrss: KiB on Linux
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // scale
start = time.perf_counter()
out = {"articles": 0, "books": 0, "deleted": [], "bad_pmid": 0, "missing_crdt": 0,
       "missing_edat": 0, "retracted": [], "selected": {}}
for rec in iter_pubmed_xml(path):
    if isinstance(rec, DeletedCitations):
        out["deleted"].append(list(rec.pmids))
        continue
    out["articles" if rec.kind == "article" else "books"] += 1
    out["bad_pmid"] += not rec.pmid.isdigit()
    out["missing_crdt"] += b'PubStatus="entrez"' in rec.raw_xml and rec.create_date is None
    out["missing_edat"] += b'PubStatus="pubmed"' in rec.raw_xml and rec.entry_date is None
    if rec.is_retracted:
        out["retracted"].append(rec.pmid)
    if rec.pmid in wanted:
        out["selected"][rec.pmid] = rec.to_dict()
out["seconds"] = time.perf_counter() - start
out["rss_growth_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // scale - before
raw = gzip.open(path).read()
out["raw_records"] = len(re.findall(rb"<(?:PubmedArticle|PubmedBookArticle)[\s>]", raw))
tail = raw[raw.rindex(b"<DeleteCitation>"):]
out["raw_deleted"] = [m.decode() for m in re.findall(rb"<PMID[^>]*>(\d+)</PMID>", tail)]
print(json.dumps(out))
"""

SELECTED = {
    "27602157", "34093767", "32090497", "33780037", "34091867", "33353469", "34091377",
    "25242986", "31031480", "33977567", "32472320", "34096326", "34086808",
}


@pytest.fixture(scope="module")
def update_file_summary() -> dict:
    """Parse pubmed21n1298.xml.gz once, in a fresh interpreter so peak RSS is meaningful."""
    path = data_file(UPDATE_FILE)
    pytest.importorskip("resource")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _SUMMARY_SCRIPT, str(path), ",".join(sorted(SELECTED))],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_update_file_counts(update_file_summary: dict) -> None:
    s = update_file_summary
    assert s["articles"] == 20788 and s["books"] == 0
    assert s["articles"] == s["raw_records"]
    assert len(s["deleted"]) == 1 and len(s["deleted"][0]) == 20
    assert s["deleted"][0] == s["raw_deleted"]
    assert s["deleted"][0][:2] == ["31688362", "31764432"]
    assert s["bad_pmid"] == 0 and s["missing_crdt"] == 0 and s["missing_edat"] == 0
    assert sorted(s["retracted"]) == ["27602157", "31031480", "32743968", "33104149"]
    assert set(s["selected"]) == SELECTED


def test_update_file_streams_in_flat_memory(update_file_summary: dict) -> None:
    # Without clearing, lxml holds ~1.5 GiB for this 233 MB file; streaming stays a few MiB.
    assert update_file_summary["rss_growth_kib"] < 300 * 1024


def _selected(summary: dict, pmid: str) -> ParsedRecord:
    return ParsedRecord.from_dict(summary["selected"][pmid])


def test_update_file_retractions_and_notices(update_file_summary: dict) -> None:
    retracted = _selected(update_file_summary, "27602157")
    assert retracted.is_retracted
    assert "Retracted Publication" in retracted.publication_types
    assert retracted.comments_corrections == (
        CommentCorrection("RetractionIn", "Oncol Lett. 2021 Jul;22(1):545", "34093767"),)
    assert retracted.pmcid == "PMC4998573" and retracted.doi == "10.3892/ol.2016.4904"
    notice = _selected(update_file_summary, "34093767")
    assert not notice.is_retracted
    assert notice.publication_types == ("Retraction of Publication",)
    assert notice.comments_corrections[0].ref_type == "RetractionOf"
    assert notice.comments_corrections[0].pmid == "27602157"
    concern = _selected(update_file_summary, "32090497")
    assert not concern.is_retracted
    assert concern.comments_corrections == (CommentCorrection(
        "ExpressionOfConcernIn", "Int Wound J. 2021 Jun 7;:", "34096680"),)
    plos = _selected(update_file_summary, "34086808")
    assert plos.authors[0].collective_name == "PLOS ONE Editors"
    assert plos.authors[0].last_name is None


def test_update_file_text_and_dates(update_file_summary: dict) -> None:
    s = update_file_summary
    assert _selected(s, "33780037").title == (
        "Free-breathing simultaneous T 1 , T 2 , and T 2 \u2217 quantification in the myocardium.")
    assert "stages 3b, 4 & 5 (eGFR <44 ml/min/1.73m2) and instead" in _selected(
        s, "34096326").abstract
    assert _selected(s, "33977567").title == ""                      # <ArticleTitle/>, erratum
    vernacular = _selected(s, "32472320")
    assert (vernacular.title, vernacular.language) == ("Briefsammlung Wittelsh\u00f6fer.", "ger")
    medline_date = _selected(s, "31031480")
    assert (medline_date.pub_date, medline_date.pub_year) == ("2019 Jan-Mar", 2019)
    late = _selected(s, "25242986")      # added to PubMed years after publication:
    assert late.create_date == dt.date(2014, 9, 23)       # CRDT = the real creation day
    assert late.entry_date == dt.date(2012, 3, 1)         # EDAT set back to the pub date
    trials = _selected(s, "34091867").databanks
    assert trials[0][0] == "ClinicalTrials.gov" and len(trials[0][1]) == 7
    assert trials[0][1][0] == "NCT00404573"


def test_update_file_mecfs_records(update_file_summary: dict) -> None:
    news = _selected(update_file_summary, "33353469")
    assert news.title.startswith("Are Circulating Fibroblast Growth Factor 21")
    assert "Myalgic Encephalomyelitis/Chronic Fatigue Syndrome" in news.title
    assert (news.status, news.publication_types, news.mesh) == ("In-Data-Review", ("News",), ())
    assert news.doi == "10.1089/ars.2020.8230"
    get = _selected(update_file_summary, "34091377")
    assert get.status == "Publisher" and get.mesh == ()
    assert get.abstract_sections[0].label == "OBJECTIVES"
    assert "chronic fatigue syndrome (CFS)" in get.abstract
    assert "Chronic fatigue syndrome" in get.keywords


# --------------------------------------------------------------------------- malformed input

def test_truncated_document_yields_complete_records_then_raises() -> None:
    raw = _raw(data_file("pubmed_xml/pubmed21n1298_mecfs_and_near_miss.xml.gz"))
    cut = raw[: len(raw) // 2]
    got: list[ParsedRecord | DeletedCitations] = []
    with pytest.raises(PubmedXMLError) as info:
        for rec in iter_pubmed_xml(cut):
            got.append(rec)
    assert len(got) == cut.count(b"</PubmedArticle>") > 100
    assert isinstance(info.value, ParseError)
    assert info.value.__cause__ is not None
    assert "line" in str(info.value) and "\n" not in str(info.value)
    assert info.value.line is not None
    # The same records come out as when the whole file is read.
    whole = list(iter_pubmed_xml(raw))
    assert got == whole[: len(got)]


def test_truncated_gzip_raises() -> None:
    data = data_file("pubmed_xml/pubmed20n0014_first300.xml.gz").read_bytes()
    with pytest.raises(PubmedXMLError, match="gzip"):
        list(iter_pubmed_xml(data[: len(data) // 2]))


@pytest.mark.parametrize(("body", "message"), [
    (b"", "empty"),
    (b"  \n", "empty"),
    (b'{"error":"API rate limit exceeded","count":"5","limit":"3"}', "JSON"),
    (b"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>502</title></head>"
     b"<body><p>Bad Gateway<br></p></body></html>", "HTML"),
    (b"<html><body><p>Service unavailable</p></body></html>", "<html>"),
    (b'<?xml version="1.0"?>\n<eFetchResult>\n\t<ERROR>Empty id list - nothing todo</ERROR>\n'
     b"</eFetchResult>", "eFetchResult>, ERROR: Empty id list - nothing todo"),
    (b"<Wrapper><PubmedArticle/></Wrapper>", "<Wrapper>"),
    (b"<PubmedArticleSet><PubmedArticle><MedlineCitation/></PubmedArticle></PubmedArticleSet>",
     "no PMID"),
])
def test_not_pubmed_xml(body: bytes, message: str) -> None:
    with pytest.raises(PubmedXMLError, match=re.escape(message)) as info:
        list(iter_pubmed_xml(body))
    assert "\n" not in str(info.value)


def test_real_eutils_error_documents_are_rejected() -> None:
    for rel in ("eutils_fixtures/biopython/Entrez/esummary8.xml",
                "eutils_fixtures/biopython/Entrez/esearch8.xml",
                "eutils_fixtures/ncbi_eutils_json_samples/efetch.pubmed.json"):
        with pytest.raises(PubmedXMLError):
            list(iter_pubmed_xml(data_file(rel)))


_ARTICLE = (b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>"
            b"<ArticleTitle>%s</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
            b"</PubmedArticleSet>")


def test_external_entity_is_not_resolved() -> None:
    doc = (b'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet '
           b'[<!ENTITY e SYSTEM "file:///etc/passwd">]>' + _ARTICLE % b"x &e; y")
    (rec,) = parse_pubmed_xml(doc)
    assert isinstance(rec, ParsedRecord)
    assert "root:" not in rec.title and "root:" not in rec.raw_xml.decode()
    assert rec.title == "x &e; y"


def test_entity_bomb_is_not_expanded() -> None:
    entities = b'<!ENTITY a0 "lol">' + b"".join(
        b'<!ENTITY a%d "%s">' % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10))
    doc = b"<!DOCTYPE PubmedArticleSet [" + entities + b"]>" + _ARTICLE % b"&a9;"
    try:
        (rec,) = parse_pubmed_xml(doc)
    except PubmedXMLError as err:    # newer libxml2 refuses the amplification outright
        assert "amplification" in str(err)
        return
    assert isinstance(rec, ParsedRecord)
    assert rec.title == "&a9;"


# --------------------------------------------------------------------------- sources and dates

def test_sources_bytes_path_fileobj_and_gzip(tmp_path: Path) -> None:
    path = data_file("eutils_fixtures/biopython/Entrez/pubmed2.xml")
    expected = parse_pubmed_xml(path.read_bytes())
    assert len(expected) == 2
    assert list(iter_pubmed_xml(str(path))) == expected
    with path.open("rb") as fh:
        assert list(iter_pubmed_xml(fh)) == expected
        assert not fh.closed
    gz = gzip.compress(path.read_bytes())
    assert parse_pubmed_xml(gz) == expected
    plain_name = tmp_path / "no_gz_suffix.xml"       # gzip is detected by magic bytes
    plain_name.write_bytes(gz)
    assert list(iter_pubmed_xml(plain_name)) == expected
    assert list(iter_pubmed_xml(io.BytesIO(gz))) == expected
    with pytest.raises(TypeError):
        list(iter_pubmed_xml(path.read_text()))


def _dated(pub_date: bytes, history: bytes = b"") -> ParsedRecord:
    doc = (b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>7</PMID><Article>"
           b"<Journal><JournalIssue><PubDate>%s</PubDate></JournalIssue></Journal>"
           b"<ArticleTitle>t</ArticleTitle><ELocationID EIdType='doi' ValidYN='Y'>10.1/x"
           b"</ELocationID></Article></MedlineCitation><PubmedData><History>%s</History>"
           b"<ArticleIdList><ArticleId IdType='pmc'>12345</ArticleId></ArticleIdList>"
           b"</PubmedData></PubmedArticle></PubmedArticleSet>") % (pub_date, history)
    (rec,) = parse_pubmed_xml(doc)
    assert isinstance(rec, ParsedRecord)
    return rec


@pytest.mark.parametrize(("pub_date", "year", "iso"), [
    (b"<Year>2021</Year><Month>Jun</Month><Day>7</Day>", 2021, "2021-06-07"),
    (b"<Year>2021</Year><Month>02</Month>", 2021, "2021-02"),
    (b"<Year>2021</Year><Month>Feb</Month><Day>30</Day>", 2021, "2021-02"),
    (b"<Year>2021</Year><Season>Spring</Season>", 2021, "2021"),
    (b"<MedlineDate>2000 Jan-Feb</MedlineDate>", 2000, "2000 Jan-Feb"),
    (b"<MedlineDate>1998 Dec-1999 Jan</MedlineDate>", 1998, "1998 Dec-1999 Jan"),
    (b"<Year>n.d.</Year>", None, None),
    (b"", None, None),
])
def test_pub_dates(pub_date: bytes, year: int | None, iso: str | None) -> None:
    rec = _dated(pub_date)
    assert (rec.pub_year, rec.pub_date) == (year, iso)
    assert rec.doi == "10.1/x" and rec.pmcid == "PMC12345"


def test_bad_history_dates_become_none() -> None:
    history = (b'<PubMedPubDate PubStatus="entrez"><Year>2021</Year><Month>6</Month>'
               b'</PubMedPubDate><PubMedPubDate PubStatus="pubmed"><Year>2021</Year>'
               b"<Month>13</Month><Day>1</Day></PubMedPubDate>")
    rec = _dated(b"", history)
    assert rec.create_date is None and rec.entry_date is None
    ok = _dated(b"", b'<PubMedPubDate PubStatus="entrez"><Year>2021</Year><Month>6</Month>'
                     b"<Day>7</Day><Hour>12</Hour></PubMedPubDate>")
    assert ok.create_date == dt.date(2021, 6, 7)


def test_abstract_text_rule_on_synthetic_record() -> None:
    doc = (b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>9</PMID><Article>"
           b"<ArticleTitle>  A <i>B</i>\n  <sup>2</sup>c </ArticleTitle><Abstract>"
           b"<AbstractText Label='AIM' NlmCategory='OBJECTIVE'>x  <b>y</b>\tz</AbstractText>"
           b"<AbstractText/><AbstractText>plain</AbstractText></Abstract></Article>"
           b"</MedlineCitation></PubmedArticle></PubmedArticleSet>")
    (rec,) = parse_pubmed_xml(doc)
    assert isinstance(rec, ParsedRecord)
    assert rec.title == "A B 2c"
    assert rec.abstract_sections == (AbstractSection("AIM", "OBJECTIVE", "x y z"),
                                     AbstractSection(None, None, "plain"))
    assert rec.abstract == "AIM: x y z\nplain"
