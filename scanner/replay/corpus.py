"""The records a :class:`~scanner.replay.server.ReplayServer` serves.

A :class:`Corpus` maps PMIDs to the serialized ``<PubmedArticle>`` (or
``<PubmedBookArticle>``) element and the record's create date (CRDT, the
``History/PubMedPubDate[@PubStatus="entrez"]`` date, the same one the scanner's parser
reads: see ``scanner.pubmed.parse.CRDT_STATUS``). Nothing else is kept, so a
full NLM update file (about 20,000 records) costs little more than its
uncompressed size in memory.

The corpus is thread-safe: tests mutate it (:meth:`Corpus.replace`,
:meth:`Corpus.delete`) while the server answers requests from other threads.
"""

from __future__ import annotations

import datetime as dt
import enum
import gzip
import io
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, NamedTuple

from lxml import etree

from scanner.pubmed.parse import CRDT_STATUS

__all__ = ["Corpus", "CorpusRecord", "normalize_pmid"]

_GZIP_MAGIC = b"\x1f\x8b"
_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle")
_MONTHS = {name: i for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    start=1)}


class _Keep(enum.Enum):
    """Sentinel: keep the record's current create date."""

    KEEP = "keep"


class CorpusRecord(NamedTuple):
    """One record: its PMID, the raw element bytes (UTF-8) and its create date.

    ``version`` is the ``PMID/@Version`` of a versioned citation; the corpus keeps
    only the highest version of a PMID, as ``efetch`` serves only the current one.
    """

    pmid: str
    xml: bytes
    create_date: dt.date | None
    version: int = 1


def normalize_pmid(pmid: int | str) -> str:
    """Return ``pmid`` as a canonical decimal string (``" 0123 "`` -> ``"123"``).

    Raises ``ValueError`` for anything that is not a positive integer.
    """
    text = str(pmid).strip()
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"not a PMID: {pmid!r}")
    return str(int(text))


def _open_xml(path: Path) -> io.BufferedIOBase:
    """Open a PubMed XML file for binary streaming, gunzipping it if needed."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")
    return path.open("rb")


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    return _MONTHS.get(text[:3].lower())


def _create_date(record: etree._Element) -> dt.date | None:
    """The create date (CRDT, ``PubStatus="entrez"``) of a record element, if any."""
    history = record.find("PubmedData/History")
    if history is None:
        history = record.find("PubmedBookData/History")
    if history is None:
        return None
    for node in history.iterchildren("PubMedPubDate"):
        if node.get("PubStatus") != CRDT_STATUS:
            continue
        year = _int(node.findtext("Year"))
        month = _int(node.findtext("Month"))
        day = _int(node.findtext("Day"))
        if year is None or month is None or day is None:
            return None
        try:
            return dt.date(year, month, day)
        except ValueError:
            return None
    return None


def _record_pmid(record: etree._Element) -> tuple[str, int] | None:
    """The PMID and its ``Version`` of a ``PubmedArticle``/``PubmedBookArticle``."""
    node = record.find("MedlineCitation/PMID")
    if node is None:
        node = record.find("BookDocument/PMID")
    if node is None or node.text is None:
        return None
    try:
        pmid = normalize_pmid(node.text)
    except ValueError:
        return None
    version = node.get("Version", "1")
    return pmid, int(version) if version.isdigit() else 1


class Corpus:
    """PubMed records by PMID, plus the PMIDs withdrawn from PubMed.

    Records are served verbatim by ``efetch``; ``esearch`` filters them on their
    create date. Records without a pubmed history date are kept (``efetch``
    serves them) but never fall inside a date window.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._records: dict[str, CorpusRecord] = {}
        self._deleted: set[str] = set()
        self._order: list[str] | None = None  # PMIDs, descending; rebuilt lazily

    # -- building ---------------------------------------------------------------------

    @classmethod
    def from_files(cls, paths: Iterable[str | Path]) -> Corpus:
        """Build a corpus from PubMed XML files (plain or gzip), in order.

        A later file's version of a record replaces an earlier one, and a
        ``<DeleteCitation>`` block deletes the PMIDs it lists, as when NLM update
        files are applied in sequence.
        """
        corpus = cls()
        for path in paths:
            corpus.load(path)
        return corpus

    def load(self, source: str | Path | IO[bytes]) -> int:
        """Stream one PubMed XML file (path or binary file object) into the corpus.

        Gzip is recognized by its magic bytes (for file objects, if seekable).

        Returns the number of record elements read; versioned citations (the
        same PMID with ``Version`` 1, 2, ...) count once per element but only the
        highest version is kept, so ``len(corpus)`` can be smaller. Elements are
        serialized and cleared one at a time, so memory holds only record bytes.
        """
        if isinstance(source, str | Path):
            with _open_xml(Path(source)) as stream:
                return self._load_stream(stream)
        if source.seekable():
            position = source.tell()
            magic = source.read(2)
            source.seek(position)
            if magic == _GZIP_MAGIC:
                with gzip.GzipFile(fileobj=source, mode="rb") as unzipped:
                    return self._load_stream(unzipped)
        return self._load_stream(source)

    def _load_stream(self, stream: IO[bytes] | io.BufferedIOBase) -> int:
        count = 0
        events = etree.iterparse(
            stream,
            events=("end",),
            tag=(*_RECORD_TAGS, "DeleteCitation"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
        )
        for _event, elem in events:
            if elem.tag == "DeleteCitation":
                for pmid_node in elem.iterfind("PMID"):
                    if pmid_node.text:
                        self.delete(pmid_node.text, missing_ok=True)
            else:
                count += 1
                ident = _record_pmid(elem)
                if ident is not None:
                    pmid, version = ident
                    current = self.record(pmid)
                    if current is None or current.version <= version:
                        raw = etree.tostring(elem, encoding="UTF-8", with_tail=False)
                        self._put(CorpusRecord(pmid, raw, _create_date(elem), version))
            # Free the element and everything already seen before it.
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
        return count

    def copy(self) -> Corpus:
        """An independent corpus with the same records (record bytes are shared)."""
        clone = Corpus()
        with self._lock:
            clone._records = dict(self._records)
            clone._deleted = set(self._deleted)
        return clone

    def _put(self, record: CorpusRecord) -> None:
        with self._lock:
            if record.pmid not in self._records:
                self._order = None
            self._records[record.pmid] = record
            self._deleted.discard(record.pmid)

    # -- mutation ---------------------------------------------------------------------

    def add(self, pmid: int | str, raw_xml: bytes, create_date: dt.date | None) -> None:
        """Add a new record (``raw_xml`` is served verbatim by ``efetch``).

        Raises ``ValueError`` if the PMID is already present (use :meth:`replace`).
        A previously deleted PMID may be added again.
        """
        key = normalize_pmid(pmid)
        with self._lock:
            if key in self._records:
                raise ValueError(f"PMID {key} is already in the corpus; use replace()")
            self._put(CorpusRecord(key, bytes(raw_xml), create_date))

    def replace(self, pmid: int | str, raw_xml: bytes, *,
                create_date: dt.date | _Keep | None = _Keep.KEEP) -> None:
        """Change a record upstream (for instance it becomes retracted).

        The create date (and version) is kept unless ``create_date`` is given.
        Raises ``KeyError`` if the PMID is not in the corpus.
        """
        key = normalize_pmid(pmid)
        with self._lock:
            old = self._records[key]
            new_date = old.create_date if isinstance(create_date, _Keep) else create_date
            self._records[key] = CorpusRecord(key, bytes(raw_xml), new_date, old.version)

    def delete(self, pmid: int | str, *, missing_ok: bool = False) -> None:
        """Withdraw a record: ``esearch`` no longer finds it, ``efetch`` omits it.

        The PMID is remembered as deleted, so a server configured with
        ``deleted_as_delete_citation=True`` can report it in a ``<DeleteCitation>``
        block. Raises ``KeyError`` for an unknown PMID unless ``missing_ok``.
        """
        key = normalize_pmid(pmid)
        with self._lock:
            if key not in self._records and not missing_ok:
                raise KeyError(key)
            if self._records.pop(key, None) is not None:
                self._order = None
            self._deleted.add(key)

    # -- queries ----------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __contains__(self, pmid: object) -> bool:
        try:
            key = normalize_pmid(pmid)  # type: ignore[arg-type]
        except ValueError:
            return False
        with self._lock:
            return key in self._records

    def __iter__(self) -> Iterator[str]:
        """PMIDs, highest first."""
        return iter(self.pmids())

    def get(self, pmid: int | str) -> bytes | None:
        """The raw record bytes, or ``None`` if absent or deleted."""
        record = self.record(pmid)
        return None if record is None else record.xml

    def record(self, pmid: int | str) -> CorpusRecord | None:
        """The whole :class:`CorpusRecord`, or ``None`` if absent or deleted."""
        try:
            key = normalize_pmid(pmid)
        except ValueError:
            return None
        with self._lock:
            return self._records.get(key)

    def is_deleted(self, pmid: int | str) -> bool:
        """Whether the PMID was deleted (by :meth:`delete` or a ``DeleteCitation``)."""
        try:
            key = normalize_pmid(pmid)
        except ValueError:
            return False
        with self._lock:
            return key in self._deleted

    @property
    def deleted_pmids(self) -> frozenset[str]:
        """Every PMID deleted so far and not added back."""
        with self._lock:
            return frozenset(self._deleted)

    def pmids(self) -> list[str]:
        """All PMIDs, highest (newest) first."""
        with self._lock:
            if self._order is None:
                self._order = sorted(self._records, key=int, reverse=True)
            return list(self._order)

    def pmids_between(self, mindate: dt.date | None, maxdate: dt.date | None) -> list[str]:
        """PMIDs whose create date lies in ``[mindate, maxdate]``, highest first.

        Either bound may be ``None`` (open). With both ``None`` every record is
        returned, dated or not; otherwise undated records never match.
        """
        with self._lock:
            order = self.pmids()
            if mindate is None and maxdate is None:
                return order
            low = mindate or dt.date.min
            high = maxdate or dt.date.max
            result = []
            for pmid in order:
                created = self._records[pmid].create_date
                if created is not None and low <= created <= high:
                    result.append(pmid)
            return result
