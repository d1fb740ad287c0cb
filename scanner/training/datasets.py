"""Labelled sets: the project's labels (CSV) joined with texts read where they live.

A label file has at least ``pmid`` and the label columns (``relevance``, ``pem``,
``design``, ``human_participants``). Its ``source`` column says where the text is:
a file under ``../shared/data`` (read in place, never copied) or the project's own
``data/demo`` records. Rows without a ``source`` are looked up in the demo records.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from classifiers.paper import Paper
from scanner.errors import ScannerError
from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml
from scanner.resources import demo_records, shared_data_dir

#: source name -> path (relative to the shared data directory) of PubMed XML or JSONL.
SOURCES: dict[str, str] = {
    "mecfs_union": "mecfs_records/openmecfs_union_records.jsonl",
    "near_miss": "pubmed_xml/pubmed21n1298_mecfs_and_near_miss.xml.gz",
    "update_file": "pubmed_xml/pubmed21n1298.xml.gz",
    "baseline_first300": "pubmed_xml/pubmed20n0014_first300.xml.gz",
    "metapub": "eutils_fixtures/metapub_pmid_xml",
    "biopython": "eutils_fixtures/biopython/Entrez",
    "mecfs_abstracts": "mecfs_fulltext/index.jsonl",
    "mecfs_unverified": "mecfs_fulltext/index.jsonl",
}

#: ``mecfs_fulltext/index.jsonl`` fidelities whose abstract files are read as verbatim
#: PubMed text (source ``mecfs_abstracts``); paraphrased or unverified ones are never read
#: by that source (the unverified ones are the training-only ``mecfs_unverified``).
VERBATIM = frozenset({"pubmed_text_export (likely verbatim)",
                      "structured headings (probably verbatim)"})

#: The fidelity of the abstract files read by the ``mecfs_unverified`` source: texts that
#: may be paraphrases, labelled for training only (``data/labels/train_only.csv``), never
#: scored in any figure.
UNVERIFIED = "unverified (may be paraphrased)"


@dataclass(frozen=True, slots=True)
class Example:
    paper: Paper
    labels: dict[str, str]


def _xml_papers(paths: list[Path], wanted: set[str]) -> Iterator[Paper]:
    for path in paths:
        for item in iter_pubmed_xml(path):
            if isinstance(item, ParsedRecord) and item.pmid in wanted:
                yield Paper.from_record(item)


def _source_papers(source: str, wanted: set[str], shared: Path) -> dict[str, Paper]:
    if source == "demo":
        return {p.pmid: p for p in _xml_papers([demo_records()], wanted)}
    if source not in SOURCES:
        raise ScannerError(f"unknown label source {source!r}; known: demo, "
                           + ", ".join(sorted(SOURCES)))
    path = shared / SOURCES[source]
    if not path.exists():
        raise ScannerError(f"labelled texts for source {source!r} not found at {path} "
                           "(the shared data directory must sit beside the project)")
    if source == "mecfs_abstracts":
        return _verbatim_abstracts(path, wanted)
    if source == "mecfs_unverified":
        return _unverified_abstracts(path, wanted)
    if path.suffix == ".jsonl":
        out = {}
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                if str(d["pmid"]) in wanted:
                    out[str(d["pmid"])] = Paper.from_json(d)
        return out
    if path.is_dir():
        files = sorted(path.glob("*.xml"))
        if source == "metapub":
            files = [f for f in files if f.stem in wanted]
        else:
            files = [f for f in files if f.name.startswith("pubmed")]
        return {p.pmid: p for p in _xml_papers(files, wanted)}
    return {p.pmid: p for p in _xml_papers([path], wanted)}


_HEADED = re.compile(r"^[A-Z][A-Za-z /&-]{2,40}:\s")
_NOT_ABSTRACT = re.compile(r"^(?:Title|Authors?|Journal|DOI|PMID|PMCID|Keywords|Copyright|"
                           r"Conflict of interest|Author information|Collaborators|"
                           r"Retrieved|©|\(\d+\))", re.IGNORECASE)
_AUTHOR_LIST = re.compile(r"^[A-Z][\w' -]+ [A-Z]{1,3}\(\d")
#: A metadata line of the headed layouts ("DOI: ...", "PubMed: ...", "Year: 2021").
_META = re.compile(r"^(?:Title|Authors?|Journal|DOI|PMID|PMCID|PMC|PubMed|URL|Published|"
                   r"Available|Affiliations?|Keywords|License|Year|Volume|Number|Pages|"
                   r"Retrieved|Copyright|ClinicalTrials\.gov|Conflict of interest)\b[^:\n]{0,20}:",
                   re.IGNORECASE)
#: PubMed's citation line without the export's "1. " ("Cell Death Dis. 2026 Jan 9;17(1):16.").
_JOURNAL_LINE = re.compile(r"^[A-Z][A-Za-z .&()-]*\.\s(?:19|20)\d\d\s[A-Z][a-z]{2}\b[^;]*;")
#: A reference as first block: "Doe JA, Roe B, et al. The title. Journal. 2021;..." or
#: "Doe, J. (2025). The title. medRxiv ..."; the title is the sentence after the authors.
_CITATION_START = re.compile(r"^[^\W\d_][\w'’-]*,? (?:[A-Z]{1,3}|[A-Z]\.)[,.] ")
_CITATION = re.compile(r"^.{0,400}?(?:\b[A-Z]{1,3}|et al|\(\d{4}\))\. "
                       r"(?P<title>[^(\s].*?[.?!])(?: |$)")
#: A line that opens the abstract in the headed layouts ("Abstract:", "ABSTRACT",
#: "ABSTRACT (from PubMed):").
_ABSTRACT_LINE = re.compile(r"^[ \t]*(?:ABSTRACT|Abstract)\b[^\n:]{0,30}:?[ \t]*$", re.MULTILINE)
_TITLE_LINE = re.compile(r"^Title:[ \t]*(?P<title>.+(?:\n[ \t]+\S.*)*)",
                         re.IGNORECASE | re.MULTILINE)
#: Paragraphs a curator appended to an unverified abstract file (why the paper matters to
#: ME/CFS, what the file lacks); never part of the paper's abstract.
_CURATOR_NOTE = re.compile(r"^(?:Relevance\b|Key implication|Note:|Limitations:)")


def _blocks(text: str) -> list[str]:
    return [" ".join(b.split()) for b in re.split(r"\n\s*\n", text) if b.strip()]


def _headed_title(text: str, first_block: str) -> str:
    """The title of a headed or plain layout: a "Title:" line, the title inside a reference
    that opens the file, or else the first line."""
    head = text.partition("ABSTRACT:")[0]
    found = _TITLE_LINE.search(head)
    if found:
        return " ".join(found["title"].split())
    if _CITATION_START.match(first_block):
        cited = _CITATION.match(first_block)
        if cited:
            return cited["title"]
    return text.strip().splitlines()[0].strip().removeprefix("Title:").strip()


def parse_abstract_file(text: str, *, curated: bool = False) -> tuple[str, str]:
    """(title, abstract) of an abstract file in one of its layouts.

    PubMed's text export ("1. J Name. 2024 ...", blank-line separated blocks: citation,
    title, authors, affiliations, abstract, copyright, identifiers; also without the
    "1. "), or a headed layout (a title line, "Title: ...", or a reference whose second
    sentence is the title; author and journal lines; then the abstract, after an
    "ABSTRACT:" / "Abstract:" line, from its first structured heading, or, in a plain
    layout, the paragraphs between the title and the metadata lines). ``curated``: also
    stop at a curator's note ("Relevance ...", "Note: ...") appended to the abstract (the
    unverified files).
    """
    blocks = _blocks(text)
    if not blocks:
        return "", ""
    if re.match(r"^\d+\.\s", blocks[0]) or _JOURNAL_LINE.match(blocks[0]):
        title = blocks[1] if len(blocks) > 1 else ""
        body = [b for b in blocks[2:] if len(b) > 200 and not _NOT_ABSTRACT.match(b)
                and not _AUTHOR_LIST.match(b)]
        return title, body[0] if body else ""
    title = _headed_title(text, blocks[0])
    marker = _ABSTRACT_LINE.search(text)
    if "ABSTRACT:" in text:
        blocks = _blocks(text.partition("ABSTRACT:")[2])
    elif marker:
        blocks = _blocks(text[marker.end():])
    else:
        start = next((i for i, b in enumerate(blocks)
                      if i > 0 and _HEADED.match(b) and not _META.match(b)), None)
        if start is None:
            # plain layout: the paragraphs after the title, before the metadata lines
            start = next((i for i, b in enumerate(blocks) if i > 0 and not _META.match(b)
                          and not _CITATION_START.match(b)), None)
        blocks = blocks[start:] if start is not None else []
    joined: list[str] = []
    for block in blocks:
        if _NOT_ABSTRACT.match(block) or (curated and (_CURATOR_NOTE.match(block)
                                                       or _META.match(block))):
            break
        if joined and re.fullmatch(r"[A-Z][A-Z /&-]{2,40}:", joined[-1]):
            joined[-1] = f"{joined[-1]} {block}"
        else:
            joined.append(block)
    return title, " ".join(joined)


def _verbatim_abstracts(index: Path, wanted: set[str]) -> dict[str, Paper]:
    out = {}
    with index.open(encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            pmid = str(d.get("pmid") or "")
            if pmid not in wanted or d.get("text_kind") != "abstract_file" or \
                    d.get("fidelity") not in VERBATIM:
                continue
            text = (index.parent / d["copied_files"][0]).read_text(encoding="utf-8")
            title, abstract = parse_abstract_file(text)
            out[pmid] = Paper(pmid=pmid, title=title, abstract=abstract)
    return out


def unverified_key(entry: dict[str, object]) -> str:
    """The label-file key of an unverified abstract file: its PMID, or, where the index has
    none, the index ``id`` itself (it starts with ``yl-abs:``, so it is never a PMID)."""
    return str(entry.get("pmid") or entry["id"])


def _unverified_abstracts(index: Path, wanted: set[str]) -> dict[str, Paper]:
    """The unverified abstract files by :func:`unverified_key`; where several files share
    a PMID, the first in index order is the one read."""
    out: dict[str, Paper] = {}
    with index.open(encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            key = unverified_key(d)
            if key not in wanted or key in out or d.get("text_kind") != "abstract_file" or \
                    d.get("fidelity") != UNVERIFIED:
                continue
            text = (index.parent / d["copied_files"][0]).read_text(encoding="utf-8")
            title, abstract = parse_abstract_file(text, curated=True)
            out[key] = Paper(pmid=key, title=title, abstract=abstract)
    return out


def load_labelled(csv_path: Path, shared: Path | None = None) -> list[Example]:
    """Every labelled row joined with its text; a row whose text is missing is an error."""
    shared = shared or shared_data_dir()
    with csv_path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_source: dict[str, set[str]] = {}
    for row in rows:
        by_source.setdefault(row.get("source") or "demo", set()).add(row["pmid"])
    papers: dict[tuple[str, str], Paper] = {}
    for source, pmids in sorted(by_source.items()):
        found = _source_papers(source, pmids, shared)
        missing = sorted(pmids - set(found))
        if missing:
            raise ScannerError(f"{csv_path.name}: {len(missing)} PMIDs not found in source "
                               f"{source!r}: {', '.join(missing[:5])}")
        papers.update({(source, k): v for k, v in found.items()})
    return [Example(papers[(row.get("source") or "demo", row["pmid"])],
                    {k: v for k, v in row.items() if k not in ("pmid", "source")})
            for row in rows]


def dataset_sha256(examples: list[Example]) -> str:
    """A hash of the labels and texts a model was trained on."""
    digest = hashlib.sha256()
    for ex in sorted(examples, key=lambda e: e.paper.pmid):
        digest.update(json.dumps([ex.paper.pmid, ex.paper.text_sha256, ex.labels],
                                 sort_keys=True).encode())
    return digest.hexdigest()
