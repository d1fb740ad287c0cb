"""Sentence splitting with offsets kept (shared by the PEM reader, drafts and wording checks)."""

from __future__ import annotations

import re

__all__ = ["split_sentences"]

# A line break ends a sentence only after end punctuation or before a blank line: PubMed joins
# abstract sections with "\n", while text extracted from PDFs breaks lines mid-sentence.
_BOUNDARY = re.compile(
    r"""[.!?]["'”’)\]]*\s+(?=["'“‘(\[]?[A-Z0-9])|(?<=[.!?:])[ \t]*\n\s*|\n[ \t]*\n\s*""")
_ABBREV_END = re.compile(
    r"(?:\b(?:et\s+al|e\.g|i\.e|vs|cf|approx|ca|resp|fig|figs|ref|refs|no|nos|dr|mr|mrs|ms|"
    r"prof|st|eq|vol|pp|inc|ltd|co|jr|sr)|(?-i:\b[A-Z]))\.$",
    re.IGNORECASE)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``; ``text[start:end]`` is stripped."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _BOUNDARY.finditer(text):
        if "\n" in m.group() and text[m.start()] not in ".!?":
            end = m.start()
        else:
            if _ABBREV_END.search(text, max(0, m.start() - 12), m.start() + 1):
                continue
            end = m.start() + len(m.group().rstrip())
        _add_span(text, pos, end, spans)
        pos = m.end()
    _add_span(text, pos, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append((start, end))
