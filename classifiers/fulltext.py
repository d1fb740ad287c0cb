"""Full texts for ``scanner classify --fulltext DIR``: ``{pmid}.xml`` (JATS) or ``.txt``.

A ``.txt`` is used exactly as read in UTF-8, so evidence offsets index it directly. For
JATS, the text is the article body's text content (section titles and paragraphs joined
by newlines): that is how a policy without ``[fulltext]`` (v0.1) reads it. A policy with
``[fulltext]`` reads :func:`read_fulltext_document` (``classifiers/document.py``: for JATS,
the reader's own block text with sections, tables and citations) through
``classifiers/fulltext_reader.py``.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from .document import FullText, from_jats, from_plain

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          recover=True)


def jats_text(data: bytes) -> str:
    root = etree.fromstring(data, _PARSER)
    if root is None:
        return ""
    body = root.find(".//body")
    blocks = []
    for elem in (body if body is not None else root).iter("title", "p"):
        text = " ".join("".join(str(t) for t in elem.itertext()).split())
        if text:
            blocks.append(text)
    return "\n".join(blocks)


#: The largest full-text file read: a long article with tables is 1-3 MB of JATS, and
#: reading takes about 2 s per MB of text.
MAX_FULLTEXT_BYTES = 8_000_000


class FullTextRefused(ValueError):
    """A full-text file that is not read: outside the directory, or over the size cap."""


def _file(directory: Path, pmid: str, suffix: str,
          max_bytes: int = MAX_FULLTEXT_BYTES) -> Path | None:
    """``DIR/{pmid}{suffix}`` when it is a regular file inside ``directory`` (after
    resolving symlinks) and at most ``max_bytes``; None when absent; FullTextRefused
    otherwise. ``pmid`` must be digits, so a name cannot climb out of the directory."""
    if not pmid.isdigit():
        raise FullTextRefused(f"{pmid[:40]!r} is not a PMID; no full text read for it")
    base = directory.resolve()
    path = base / f"{pmid}{suffix}"
    if not path.is_file():
        return None
    real = path.resolve()
    if real.parent != base:
        raise FullTextRefused(f"full text {path.name} links outside {directory} "
                              f"(to {real}); not read")
    size = real.stat().st_size
    if size > max_bytes:
        raise FullTextRefused(f"full text {path.name} is {size:,} bytes, over the limit of "
                              f"{max_bytes:,}; not read")
    return real


def read_fulltext_document(directory: Path, pmid: str) -> FullText | None:
    """``DIR/{pmid}.txt`` (plain text, offsets index it as read in UTF-8) or
    ``DIR/{pmid}.xml`` (JATS), parsed for the passage reader; None if neither exists.
    FullTextRefused for a file outside the directory or over the size cap."""
    txt = _file(directory, pmid, ".txt")
    if txt is not None:
        return from_plain(txt.read_bytes().decode("utf-8", errors="replace"))
    xml = _file(directory, pmid, ".xml")
    if xml is not None:
        return from_jats(xml.read_bytes())
    return None


def read_fulltext(directory: Path, pmid: str) -> str | None:
    txt = _file(directory, pmid, ".txt")
    if txt is not None:
        return txt.read_bytes().decode("utf-8", errors="replace")
    xml = _file(directory, pmid, ".xml")
    if xml is not None:
        return jats_text(xml.read_bytes())
    return None
