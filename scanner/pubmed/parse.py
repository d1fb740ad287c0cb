"""Streaming parser for PubMed XML (``PubmedArticleSet``: efetch bodies, baseline/update files).

:func:`iter_pubmed_xml` walks the document with :func:`lxml.etree.iterparse`, turns every
``PubmedArticle`` / ``PubmedBookArticle`` into a :class:`ParsedRecord` and every
``DeleteCitation`` into :class:`DeletedCitations`, and frees each element once it is used, so
memory stays flat on a full 233 MB update file.

Text rules (later code computes character offsets on ``title`` and ``abstract``): inline markup
(``<i>``, ``<sup>``, ``<mml:math>`` ...) is flattened to its text content, whitespace runs are
collapsed to one space and the result is stripped. ``abstract`` is the non-empty ``AbstractText``
sections joined with ``"\\n"``, a labelled one written ``"LABEL: text"``.

Security: no DTD is loaded, nothing is fetched from the network and no entity is resolved (an
entity reference stays as its literal ``&name;`` text).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import logging
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol, cast

from lxml import etree

from scanner.errors import ParseError
from scanner.logs import kv

__all__ = [
    "AbstractSection", "Author", "CommentCorrection", "DeletedCitations", "MeshHeading",
    "ParsedRecord", "PubmedXMLError", "iter_pubmed_xml", "parse_pubmed_xml",
]

XMLSource = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]
_ROOT = "PubmedArticleSet"

# NLM's DTD documentation (pubmed_250101, attribute PubStatus) and the 2008 Technical Bulletin
# "Create Date" say: PubStatus="entrez" is the Create Date [crdt], PubStatus="pubmed" is the
# Entry Date [edat]. The data agrees: "entrez" carries the exact creation time (e.g. 12:13),
# "pubmed" the rounded 06:00 batch time, and for citations added over a year after publication
# "pubmed" is set back to the publication date while "entrez" is not.
CRDT_STATUS = "entrez"
EDAT_STATUS = "pubmed"
_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation")
#: A PMID: 1 to 9 digits, no leading zero. PMIDs are sequential integers, about 41 million
#: in 2026 and growing by under 2 million a year, so nine digits (up to 999,999,999) leave
#: centuries of room while refusing anything that is not one (``-1``, ``12 34``, a path,
#: 26 digits) before it reaches a file name, a URL or the store.
PMID_RE = re.compile(r"[1-9][0-9]{0,8}")
log = logging.getLogger(__name__)


def is_pmid(text: str) -> bool:
    """Whether ``text`` is a well-formed PMID (see :data:`PMID_RE`)."""
    return PMID_RE.fullmatch(text) is not None


class BadRecord(ValueError):
    """A record whose PMID is not one: reported and skipped, its batch-mates kept."""
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_YEAR_RE = re.compile(r"(?<!\d)\d{4}(?!\d)")
_LXML_POS_RE = re.compile(r",? line \d+, column \d+$")


class PubmedXMLError(ParseError):
    """PubMed XML that is malformed, truncated, or not a ``PubmedArticleSet`` at all."""

    def __init__(self, message: str, *, line: int | None = None,
                 column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class AbstractSection:
    label: str | None        # AbstractText@Label
    category: str | None     # AbstractText@NlmCategory
    text: str


@dataclass(frozen=True, slots=True)
class Author:
    last_name: str | None
    fore_name: str | None
    initials: str | None
    collective_name: str | None
    affiliations: tuple[str, ...]
    orcid: str | None        # Identifier Source="ORCID", text as given (URL or bare id)


@dataclass(frozen=True, slots=True)
class MeshHeading:
    descriptor: str
    ui: str | None
    major: bool              # MajorTopicYN on the descriptor
    qualifiers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CommentCorrection:
    ref_type: str            # RetractionIn, ErratumIn, CommentIn, Cites, ...
    ref_source: str
    pmid: str | None


@dataclass(frozen=True, slots=True)
class DeletedCitations:
    pmids: tuple[str, ...]   # from one <DeleteCitation> element


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """One PubMed record; see the module docstring for the text rules."""

    pmid: str
    kind: str                # "article" (PubmedArticle) or "book" (PubmedBookArticle)
    raw_xml: bytes           # the record element as serialized by lxml, UTF-8
    title: str
    abstract: str
    abstract_sections: tuple[AbstractSection, ...]
    authors: tuple[Author, ...]
    journal: str | None      # Journal/Title, or the book title for books
    journal_iso: str | None
    volume: str | None
    issue: str | None
    pages: str | None        # MedlinePgn
    pub_year: int | None
    pub_date: str | None     # "2021-06-07", "2021-06", "2021", or the MedlineDate text
    create_date: dt.date | None   # CRDT: PubMedPubDate[@PubStatus="entrez"] (see CRDT_STATUS)
    entry_date: dt.date | None    # EDAT: PubMedPubDate[@PubStatus="pubmed"]
    date_revised: dt.date | None
    doi: str | None
    pmcid: str | None        # "PMC123..."
    mesh: tuple[MeshHeading, ...]
    publication_types: tuple[str, ...]
    keywords: tuple[str, ...]
    comments_corrections: tuple[CommentCorrection, ...]
    databanks: tuple[tuple[str, tuple[str, ...]], ...]
    status: str | None       # MedlineCitation@Status
    language: str | None

    @property
    def is_retracted(self) -> bool:
        """True for a "Retracted Publication" or a record with a RetractionIn link."""
        if "Retracted Publication" in self.publication_types:
            return True
        return any(c.ref_type.replace(" ", "").lower() == "retractionin"
                   for c in self.comments_corrections)

    def to_dict(self) -> dict[str, Any]:
        """Every field but ``raw_xml`` as JSON-ready values, in field order.

        Written out field by field: it runs once per stored record, and the generic
        ``dataclasses.fields`` walk cost as much as compressing the raw XML.
        """
        def iso(value: dt.date | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "pmid": self.pmid, "kind": self.kind, "title": self.title,
            "abstract": self.abstract,
            "abstract_sections": [{"label": x.label, "category": x.category, "text": x.text}
                                  for x in self.abstract_sections],
            "authors": [{"last_name": a.last_name, "fore_name": a.fore_name,
                         "initials": a.initials, "collective_name": a.collective_name,
                         "affiliations": list(a.affiliations), "orcid": a.orcid}
                        for a in self.authors],
            "journal": self.journal, "journal_iso": self.journal_iso, "volume": self.volume,
            "issue": self.issue, "pages": self.pages, "pub_year": self.pub_year,
            "pub_date": self.pub_date, "create_date": iso(self.create_date),
            "entry_date": iso(self.entry_date), "date_revised": iso(self.date_revised),
            "doi": self.doi, "pmcid": self.pmcid,
            "mesh": [{"descriptor": m.descriptor, "ui": m.ui, "major": m.major,
                      "qualifiers": list(m.qualifiers)} for m in self.mesh],
            "publication_types": list(self.publication_types),
            "keywords": list(self.keywords),
            "comments_corrections": [{"ref_type": c.ref_type, "ref_source": c.ref_source,
                                      "pmid": c.pmid} for c in self.comments_corrections],
            "databanks": [[name, list(accs)] for name, accs in self.databanks],
            "status": self.status, "language": self.language,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], raw_xml: bytes = b"") -> ParsedRecord:
        """Exact inverse of :meth:`to_dict`."""
        def date(v: str | None) -> dt.date | None:
            return dt.date.fromisoformat(v) if v else None

        return cls(
            pmid=d["pmid"], kind=d["kind"], raw_xml=raw_xml, title=d["title"],
            abstract=d["abstract"],
            abstract_sections=tuple(AbstractSection(**s) for s in d["abstract_sections"]),
            authors=tuple(Author(**{**a, "affiliations": tuple(a["affiliations"])})
                          for a in d["authors"]),
            journal=d["journal"], journal_iso=d["journal_iso"], volume=d["volume"],
            issue=d["issue"], pages=d["pages"], pub_year=d["pub_year"], pub_date=d["pub_date"],
            create_date=date(d["create_date"]), entry_date=date(d["entry_date"]),
            date_revised=date(d["date_revised"]), doi=d["doi"], pmcid=d["pmcid"],
            mesh=tuple(MeshHeading(**{**m, "qualifiers": tuple(m["qualifiers"])})
                       for m in d["mesh"]),
            publication_types=tuple(d["publication_types"]), keywords=tuple(d["keywords"]),
            comments_corrections=tuple(CommentCorrection(**c)
                                       for c in d["comments_corrections"]),
            databanks=tuple((name, tuple(accs)) for name, accs in d["databanks"]),
            status=d["status"], language=d["language"],
        )


# --------------------------------------------------------------------------- text helpers
# Child lookups go through one pass over an element's children (``_kids``) or through
# ``iterchildren(tag)``: lxml's path-based ``find`` costs about 5 microseconds a call, which
# alone would halve the throughput on a full update file.

_Kids = dict[str, list[etree._Element]]


def _kids(elem: etree._Element | None) -> _Kids:
    """The children of ``elem`` grouped by tag, in document order."""
    out: _Kids = {}
    if elem is not None:
        for child in elem:
            out.setdefault(child.tag, []).append(child)
    return out


def _one(kids: _Kids, tag: str) -> etree._Element | None:
    """The first ``tag`` child from a :func:`_kids` map, or None."""
    found = kids.get(tag)
    return found[0] if found else None


def _text(elem: etree._Element | None) -> str:
    """Flattened, whitespace-collapsed text of ``elem`` ("" for None)."""
    if elem is None:
        return ""
    text = elem.text if len(elem) == 0 else "".join(cast(Iterator[str], elem.itertext()))
    return " ".join(text.split()) if text else ""


def _opt(elem: etree._Element | None) -> str | None:
    """Like :func:`_text` but None for a missing or empty element."""
    return _text(elem) or None


def _texts(elems: Iterable[etree._Element]) -> tuple[str, ...]:
    """The non-empty texts of ``elems``."""
    return tuple(t for t in map(_text, elems) if t)


def _month(value: str) -> int | None:
    """1-12 from "6", "06", "Jun" or "June"; None otherwise."""
    value = value.strip()
    if value.isdigit():
        m = int(value)
        return m if 1 <= m <= 12 else None
    return _MONTHS.get(value[:3].lower())


def _date(elem: etree._Element | None) -> dt.date | None:
    """A full Year/Month/Day date, or None when a part is missing or invalid."""
    if elem is None:
        return None
    parts = {c.tag: c.text or "" for c in elem}
    month = _month(parts.get("Month", ""))
    try:
        return dt.date(int(parts.get("Year", "")), month or 0, int(parts.get("Day", "")))
    except ValueError:
        return None


def _pub_date(elem: etree._Element | None) -> tuple[int | None, str | None]:
    """(pub_year, pub_date) from a PubDate element; see :class:`ParsedRecord`."""
    kids = _kids(elem)
    medline = _opt(_one(kids, "MedlineDate"))
    year_text = _text(_one(kids, "Year"))
    if not (year_text.isdigit() and len(year_text) == 4):
        found = _YEAR_RE.search(medline or "")
        return (int(found.group()) if found else None), medline
    year = int(year_text)
    month = _month(_text(_one(kids, "Month")))
    if month is None:
        return year, year_text
    try:
        return year, dt.date(year, month, int(_text(_one(kids, "Day")))).isoformat()
    except ValueError:
        return year, f"{year_text}-{month:02d}"


# --------------------------------------------------------------------------- record parts

def _abstract(elem: etree._Element | None) -> tuple[str, tuple[AbstractSection, ...]]:
    """(abstract text, sections) of an Abstract element; empty sections are dropped."""
    if elem is None:
        return "", ()
    sections = []
    for at in elem.iterchildren("AbstractText"):
        text = _text(at)
        if text:
            label = " ".join((at.get("Label") or "").split()) or None
            sections.append(AbstractSection(label, at.get("NlmCategory") or None, text))
    joined = "\n".join(f"{s.label}: {s.text}" if s.label else s.text for s in sections)
    return joined, tuple(sections)


def _authors(author_lists: list[etree._Element]) -> tuple[Author, ...]:
    """Every Author of the given AuthorList elements, in order."""
    authors = []
    for author_list in author_lists:
        for a in author_list.iterchildren("Author"):
            parts: dict[str, str] = {}
            affiliations: list[str] = []
            orcid = None
            for child in a:
                tag = child.tag
                if tag == "AffiliationInfo":
                    affiliations += map(_text, child.iterchildren("Affiliation"))
                elif tag == "Affiliation":      # pre-2014 layout
                    affiliations.append(_text(child))
                elif tag == "Identifier":
                    if orcid is None and (child.get("Source") or "").upper() == "ORCID":
                        orcid = _text(child) or None
                elif isinstance(tag, str):
                    parts[tag] = _text(child)
            authors.append(Author(
                last_name=parts.get("LastName") or None, fore_name=parts.get("ForeName") or None,
                initials=parts.get("Initials") or None,
                collective_name=parts.get("CollectiveName") or None,
                affiliations=tuple(x for x in affiliations if x), orcid=orcid))
    return tuple(authors)


def _mesh(heading_list: etree._Element | None) -> tuple[MeshHeading, ...]:
    """The headings of a MeshHeadingList."""
    if heading_list is None:
        return ()
    headings = []
    for mh in heading_list.iterchildren("MeshHeading"):
        kids = _kids(mh)
        desc = _one(kids, "DescriptorName")
        if desc is not None:
            headings.append(MeshHeading(
                descriptor=_text(desc), ui=desc.get("UI"), major=desc.get("MajorTopicYN") == "Y",
                qualifiers=_texts(kids.get("QualifierName", ()))))
    return tuple(headings)


def _comments(cc_list: etree._Element | None) -> tuple[CommentCorrection, ...]:
    """The entries of a CommentsCorrectionsList (Cites included)."""
    if cc_list is None:
        return ()
    out = []
    for cc in cc_list.iterchildren("CommentsCorrections"):
        kids = _kids(cc)
        out.append(CommentCorrection(ref_type=cc.get("RefType") or "",
                                     ref_source=_text(_one(kids, "RefSource")),
                                     pmid=_opt(_one(kids, "PMID"))))
    return tuple(out)


def _children(elems: Iterable[etree._Element], tag: str) -> list[etree._Element]:
    """The ``tag`` children of every element in ``elems``."""
    return [c for e in elems for c in e.iterchildren(tag)]


def _history(history: etree._Element | None) -> tuple[dt.date | None, dt.date | None]:
    """(create_date, entry_date) from History/PubMedPubDate; see :data:`CRDT_STATUS`."""
    found: dict[str, etree._Element] = {}
    if history is not None:
        for d in history.iterchildren("PubMedPubDate"):
            found.setdefault(d.get("PubStatus") or "", d)
    return _date(found.get(CRDT_STATUS)), _date(found.get(EDAT_STATUS))


def _ids(id_elems: list[etree._Element], elocations: list[etree._Element],
         ) -> tuple[str | None, str | None]:
    """(doi, pmcid) from ArticleId elements, the DOI falling back to ELocationID."""
    doi = next((t for i in id_elems if i.get("IdType") == "doi" and (t := _text(i))), None)
    if doi is None:
        doi = next((t for e in elocations if e.get("EIdType") == "doi"
                    and e.get("ValidYN", "Y") == "Y" and (t := _text(e))), None)
    pmc = next((t for i in id_elems if i.get("IdType") == "pmc" and (t := _text(i))), None)
    if pmc is not None:
        pmc = "PMC" + (pmc[3:] if pmc[:3].upper() == "PMC" else pmc)
    return doi, pmc


def _article(elem: etree._Element, pmid: str, raw: bytes) -> ParsedRecord:
    """A ParsedRecord from a PubmedArticle element."""
    rec = _kids(elem)
    mc = _one(rec, "MedlineCitation")
    mck = _kids(mc)
    ak = _kids(_one(mck, "Article"))
    jk = _kids(_one(ak, "Journal"))
    ik = _kids(_one(jk, "JournalIssue"))
    pub_year, pub_date = _pub_date(_one(ik, "PubDate"))
    abstract, sections = _abstract(_one(ak, "Abstract"))
    pdk = _kids(_one(rec, "PubmedData"))
    create_date, entry_date = _history(_one(pdk, "History"))
    doi, pmcid = _ids(_children(pdk.get("ArticleIdList", ()), "ArticleId"),
                      ak.get("ELocationID", []))
    return ParsedRecord(
        pmid=pmid, kind="article", raw_xml=raw,
        title=_text(_one(ak, "ArticleTitle")) or _text(_one(ak, "VernacularTitle")),
        abstract=abstract, abstract_sections=sections, authors=_authors(ak.get("AuthorList", [])),
        journal=_opt(_one(jk, "Title")), journal_iso=_opt(_one(jk, "ISOAbbreviation")),
        volume=_opt(_one(ik, "Volume")), issue=_opt(_one(ik, "Issue")),
        pages=_opt(_one(_kids(_one(ak, "Pagination")), "MedlinePgn")),
        pub_year=pub_year, pub_date=pub_date, create_date=create_date, entry_date=entry_date,
        date_revised=_date(_one(mck, "DateRevised")), doi=doi, pmcid=pmcid,
        mesh=_mesh(_one(mck, "MeshHeadingList")),
        publication_types=_texts(_children(ak.get("PublicationTypeList", ()),
                                           "PublicationType")),
        keywords=_texts(_children(mck.get("KeywordList", ()), "Keyword")),
        comments_corrections=_comments(_one(mck, "CommentsCorrectionsList")),
        databanks=tuple((_text(_one(dk, "DataBankName")),
                         _texts(_children(dk.get("AccessionNumberList", ()), "AccessionNumber")))
                        for dk in map(_kids, _children(ak.get("DataBankList", ()), "DataBank"))),
        status=mc.get("Status") if mc is not None else None,
        language=_opt(_one(ak, "Language")),
    )


def _book(elem: etree._Element, pmid: str, raw: bytes) -> ParsedRecord:
    """A ParsedRecord from a PubmedBookArticle element (BookDocument + PubmedBookData)."""
    rec = _kids(elem)
    bdk = _kids(_one(rec, "BookDocument"))
    bk = _kids(_one(bdk, "Book"))
    book_title = _opt(_one(bk, "BookTitle"))
    title = (_text(_one(bdk, "ArticleTitle")) or book_title
             or _text(_one(bdk, "VernacularTitle")))
    pub_year, pub_date = _pub_date(_one(bk, "PubDate"))
    abstract, sections = _abstract(_one(bdk, "Abstract"))
    pbk = _kids(_one(rec, "PubmedBookData"))
    create_date, entry_date = _history(_one(pbk, "History"))
    id_lists = [*bdk.get("ArticleIdList", ()), *pbk.get("ArticleIdList", ())]
    doi, pmcid = _ids(_children(id_lists, "ArticleId"), bdk.get("ELocationID", []))
    return ParsedRecord(
        pmid=pmid, kind="book", raw_xml=raw, title=title or "", abstract=abstract,
        abstract_sections=sections,
        # BookDocument/AuthorList holds the chapter's authors; Book/AuthorList (the editors)
        # is left out.
        authors=_authors(bdk.get("AuthorList", [])),
        journal=book_title, journal_iso=None, volume=_opt(_one(bk, "Volume")), issue=None,
        pages=_opt(_one(_kids(_one(bdk, "Pagination")), "MedlinePgn")),
        pub_year=pub_year, pub_date=pub_date, create_date=create_date, entry_date=entry_date,
        date_revised=_date(_one(bdk, "DateRevised")), doi=doi, pmcid=pmcid, mesh=(),
        publication_types=_texts(bdk.get("PublicationType", ())),
        keywords=_texts(_children(bdk.get("KeywordList", ()), "Keyword")),
        comments_corrections=_comments(_one(bdk, "CommentsCorrectionsList")),
        databanks=(), status=None, language=_opt(_one(bdk, "Language")),
    )


def _record(elem: etree._Element) -> ParsedRecord | DeletedCitations:
    """The record for a complete PubmedArticle, PubmedBookArticle or DeleteCitation."""
    if elem.tag == "DeleteCitation":
        pmids = _texts(elem.iterchildren("PMID"))
        for bad in (p for p in pmids if not is_pmid(p)):
            log.warning(kv("pubmed_record_skipped", element="DeleteCitation",
                           line=elem.sourceline, pmid=bad[:40],
                           reason="not a PMID (1-9 digits)"))
        return DeletedCitations(tuple(p for p in pmids if is_pmid(p)))
    is_book = elem.tag == "PubmedBookArticle"
    container = _one(_kids(elem), "BookDocument" if is_book else "MedlineCitation")
    pmid = _text(next(container.iterchildren("PMID"), None) if container is not None else None)
    if not pmid:
        line = cast(int | None, elem.sourceline)
        raise PubmedXMLError(f"<{elem.tag}> at line {line} has no PMID", line=line)
    if not is_pmid(pmid):
        raise BadRecord(f"<{elem.tag}> at line {elem.sourceline}: {pmid[:40]!r} is not a "
                        "PMID (1-9 digits); record skipped")
    raw = etree.tostring(elem, encoding="utf-8", with_tail=False)
    return (_book if is_book else _article)(elem, pmid, raw)


# --------------------------------------------------------------------------- streaming

class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class _Reader:
    """File-like wrapper: serves ``prefix`` first, then ``raw``; remembers the first bytes."""

    def __init__(self, raw: _Readable, prefix: bytes = b"") -> None:
        self._raw, self._prefix, self.head = raw, prefix, b""

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix, b""
        else:
            data = self._raw.read(n)
        if len(self.head) < 512:
            self.head += data[: 512 - len(self.head)]
        return data


def _open(source: XMLSource) -> tuple[_Reader, IO[bytes] | None]:
    """(stream of decompressed bytes, file to close or None) for any accepted source."""
    to_close = None
    if isinstance(source, bytes | bytearray | memoryview):
        raw: _Readable = io.BytesIO(bytes(source))
    elif isinstance(source, str | os.PathLike):
        if isinstance(source, str) and source.lstrip().startswith("<"):
            raise TypeError("iter_pubmed_xml() takes XML as bytes; a str is read as a path")
        raw = to_close = open(source, "rb")  # noqa: SIM115 - closed by iter_pubmed_xml
    elif hasattr(source, "read"):
        raw = source
    else:
        raise TypeError(f"cannot read PubMed XML from {type(source).__name__}")
    magic = raw.read(2)
    while 0 < len(magic) < 2 and (more := raw.read(1)):    # a short read from a pipe
        magic += more
    if magic == b"\x1f\x8b":
        unzipped = gzip.GzipFile(fileobj=cast(IO[bytes], _Reader(raw, magic)), mode="rb")
        return _Reader(unzipped), to_close
    return _Reader(raw, magic), to_close


def _syntax_error(err: etree.XMLSyntaxError, head: bytes) -> PubmedXMLError:
    """A one-line PubmedXMLError for an lxml syntax error; ``head``: the document's start."""
    line, column = err.position if err.position else (None, None)
    start = head.lstrip()
    if not start:
        return PubmedXMLError("not PubMed XML: the document is empty")
    msg = _LXML_POS_RE.sub("", " ".join(str(err.msg or err).split()))
    hint = ""
    if start[:1] in (b"{", b"["):
        hint = " (looks like JSON)"
    elif start[:14].lower().startswith((b"<!doctype html", b"<html")):
        hint = " (looks like an HTML page)"
    where = f" at line {line}, column {column}" if line else ""
    return PubmedXMLError(f"malformed or truncated PubMed XML{hint}{where}: {msg}",
                          line=line, column=column)


def iter_pubmed_xml(source: XMLSource) -> Iterator[ParsedRecord | DeletedCitations]:
    """Yield the records of a PubMed XML document one by one, in document order.

    ``source`` is XML as bytes, a path (``str`` or ``os.PathLike``) or a binary file object;
    gzip data is recognised by its magic bytes and decompressed on the fly. A file object is
    not closed.

    A record is yielded only once its element is complete. On malformed or truncated input the
    complete records before the break are yielded first, then :class:`PubmedXMLError` is raised
    (chained from the lxml/gzip error); callers decide whether to keep them. A document whose
    root is not ``PubmedArticleSet`` (an ``eFetchResult`` ``<ERROR>``, HTML, JSON, empty input)
    raises :class:`PubmedXMLError`; an empty ``<PubmedArticleSet/>`` yields nothing.
    """
    stream, to_close = _open(source)
    context = etree.iterparse(
        stream, events=("start", "end"), tag=(_ROOT, *_RECORD_TAGS), load_dtd=False,
        no_network=True, resolve_entities=False, remove_comments=True, remove_pis=True)
    seen_root = False
    try:
        while True:
            try:
                event, elem = next(context)
            except StopIteration:
                break
            except etree.XMLSyntaxError as err:
                raise _syntax_error(err, stream.head) from err
            except EOFError as err:
                raise PubmedXMLError(f"truncated gzip data: {err}") from err
            except (zlib.error, gzip.BadGzipFile) as err:
                raise PubmedXMLError(f"corrupt gzip data: {err}") from err
            if event == "start":
                if elem.tag == _ROOT and elem.getparent() is None:
                    seen_root = True
                continue
            if elem.tag == _ROOT:
                continue
            if not seen_root:
                root = elem.getroottree().getroot()
                raise PubmedXMLError(f"not PubMed XML: root element is <{root.tag}>")
            try:
                record: ParsedRecord | DeletedCitations | None = _record(elem)
            except BadRecord as exc:
                log.warning(kv("pubmed_record_skipped", error=str(exc)))
                record = None
            elem.clear(keep_tail=False)
            while elem.getprevious() is not None:
                del elem.getparent()[0]
            if record is not None:
                yield record
        if not seen_root:
            root = context.root
            detail = _text(next(root.iterchildren("ERROR"), None)) if root is not None else ""
            name = root.tag if root is not None else "none"
            raise PubmedXMLError(f"not PubMed XML: root element is <{name}>"
                                 + (f", ERROR: {detail}" if detail else ""))
    finally:
        if to_close is not None:
            to_close.close()


def parse_pubmed_xml(data: bytes) -> list[ParsedRecord | DeletedCitations]:
    """All records of an in-memory PubMed XML document (e.g. an efetch response body)."""
    return list(iter_pubmed_xml(data))
