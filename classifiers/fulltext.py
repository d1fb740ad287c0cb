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


def read_fulltext_document(directory: Path, pmid: str) -> FullText | None:
    """``DIR/{pmid}.txt`` (plain text, offsets index it as read in UTF-8) or
    ``DIR/{pmid}.xml`` (JATS), parsed for the passage reader; None if neither exists."""
    txt = directory / f"{pmid}.txt"
    if txt.is_file():
        return from_plain(txt.read_bytes().decode("utf-8", errors="replace"))
    xml = directory / f"{pmid}.xml"
    if xml.is_file():
        return from_jats(xml.read_bytes())
    return None


def read_fulltext(directory: Path, pmid: str) -> str | None:
    txt = directory / f"{pmid}.txt"
    if txt.is_file():
        return txt.read_bytes().decode("utf-8", errors="replace")
    xml = directory / f"{pmid}.xml"
    if xml.is_file():
        return jats_text(xml.read_bytes())
    return None
