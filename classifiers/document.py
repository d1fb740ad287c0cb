"""A full text as the PEM reader sees it: text, sections, references and citations.

Two builders:

* :func:`from_jats` turns a PMC JATS article into text the reader owns: one block per
  section title, paragraph, list item, table caption and table row, blocks separated by a
  blank line (so each is its own sentence run). Sections keep their nesting, ``sec-type``
  and title; tables (``table-wrap``) are sections of kind ``table``; ``<xref
  ref-type="bibr">`` citations keep their span and target; the ``<ref-list>`` gives the
  references (not added to the text).
* :func:`from_plain` takes text as read (PDF extraction included) and never changes it:
  offsets index it exactly. Matching runs on a normalised *view* (:class:`View`) that drops
  running heads and page numbers, joins words broken by hyphenation ("fa-\\ntigue"),
  expands ligatures ("ﬁ") and maps every character back to the text as read. Headings are
  found on lines (numbered or not, stand-alone or run-in "Participants."); the reference
  list starts at the last "References" heading and its numbered entries are parsed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lxml import etree

__all__ = ["Citation", "FullText", "Section", "View", "from_jats", "from_plain",
           "normalised_view", "section_kind"]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          recover=True, huge_tree=False)


@dataclass(frozen=True, slots=True)
class Section:
    start: int          # offsets in FullText.text: the heading and everything under it
    end: int
    title: str
    kind: str           # methods | eligibility | table | end | references | other
    depth: int


@dataclass(frozen=True, slots=True)
class Citation:
    start: int          # offsets in FullText.text of the citation marker ("12", "[4,5]")
    end: int
    ref: str            # key into FullText.references


@dataclass(frozen=True, slots=True)
class FullText:
    text: str
    format: str                                 # "jats" | "plain"
    sections: tuple[Section, ...] = ()
    references: Mapping[str, str] = field(default_factory=dict)
    citations: tuple[Citation, ...] = ()
    body_end: int = -1                          # where the reference list starts
    article_type: str = ""                      # JATS <article article-type>, e.g. "review-article"
    abstract: str = ""                          # JATS <abstract>, one line; not part of text

    @property
    def refs_start(self) -> int:
        return len(self.text) if self.body_end < 0 else self.body_end


# --- section kinds ------------------------------------------------------------------------------

_NUM = r"(?:(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVX]{1,4}\.|[A-H]\.)\s*)?"
_ELIGIBILITY_T = (
    r"(?:study\s+|patient\s+|research\s+)?(?:participants?|patients?|subjects?|"
    r"population|sample|cohorts?|volunteers?)(?:\s+(?:and|&)\s+(?:controls?|methods?|"
    r"recruitment|selection|procedures?|design|setting|criteria))?|"
    r"study\s+(?:population|sample|participants|cohort|subjects)|"
    r"(?:patient|participant|subject|case|cohort)\s+(?:selection|recruitment|"
    r"characteristics|description|identification)|recruitment(?:\s+and\s+\w+)?|"
    r"eligibility(?:\s+criteria)?|inclusion(?:\s+(?:and|&)\s+exclusion)?\s+criteria|"
    r"(?:diagnostic|selection|case|study)\s+(?:criteria|definitions?)|case\s+definitions?|"
    r"(?:ME/CFS|CFS|ME)\s+(?:patients|participants|cohort|diagnosis)")
_METHODS_T = (
    r"(?:materials?\s+(?:and|&)\s+)?methods?(?:\s+(?:and|&)\s+materials?)?|methodology|"
    r"(?:patients?|participants?|subjects?)\s+(?:and|&)\s+methods?|experimental\s+"
    r"(?:design|procedures?|section)|study\s+design(?:\s+and\s+\w+)?|design(?:\s+and\s+"
    r"(?:setting|participants|methods))?|setting|procedures?|clinical\s+assessments?")
_END_T = (
    r"results?(?:\s+and\s+discussion)?|discussion|conclusions?|summary|limitations|"
    r"acknowledge?ments?|funding(?:\s+\w+)?|references|bibliography|literature\s+cited|"
    r"abbreviations|author\s+contributions?|competing\s+interests?|conflicts?\s+of\s+"
    r"interests?|declarations?|supplementary\s+(?:material|information|data)|"
    r"data\s+availability(?:\s+statement)?|ethics(?:\s+\w+){0,3}|introduction|background")
_REFERENCES_T = r"references|bibliography|literature\s+cited|works\s+cited|reference\s+list"

_ELIG_RE = re.compile(rf"^(?:{_ELIGIBILITY_T})$", re.IGNORECASE)
_METH_RE = re.compile(rf"^(?:{_METHODS_T})$", re.IGNORECASE)
_END_RE = re.compile(rf"^(?:{_END_T})$", re.IGNORECASE)
_REFS_RE = re.compile(rf"^(?:{_REFERENCES_T})$", re.IGNORECASE)
_SEC_TYPE_METHODS = {"methods", "materials", "materials|methods", "methods|materials",
                     "subjects", "patients", "cases", "subjects|methods", "design"}


def section_kind(title: str, sec_type: str = "") -> str:
    """``eligibility`` / ``methods`` / ``references`` / ``end`` / ``other`` for a heading."""
    t = " ".join(re.sub(r"[:.]\s*$", "", title).split())
    t = re.sub(rf"^{_NUM}", "", t)
    st = sec_type.lower().strip()
    if _ELIG_RE.match(t):
        return "eligibility"
    if _REFS_RE.match(t) or st in {"references", "ref-list"}:
        return "references"
    if _METH_RE.match(t) or st in _SEC_TYPE_METHODS or st.startswith(("methods", "materials")):
        return "methods"
    if _END_RE.match(t) or st in {"results", "discussion", "conclusions", "intro",
                                   "supplementary-material", "COI-statement"}:
        return "end"
    return "other"


# --- JATS ---------------------------------------------------------------------------------------

def _itertext(elem: etree._Element) -> str:
    return "".join(str(t) for t in elem.itertext())


def _local(tag: object) -> str:
    return tag.split("}", 1)[-1] if isinstance(tag, str) else ""


class _JatsBuilder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.sections: list[Section] = []
        self.citations: list[tuple[int, int, str]] = []

    def _emit(self, pieces: list[tuple[str, str | None]]) -> None:
        """One block: whitespace collapsed, xref spans tracked; blocks end with a blank line."""
        out: list[str] = []
        n = 0
        spans: list[tuple[int, int, str]] = []
        for text, rid in pieces:
            start = n
            for ch in text:
                if ch.isspace():
                    if n == 0 or out[-1] == " ":
                        continue
                    out.append(" ")
                else:
                    out.append(ch)
                n = len(out)
            if rid is not None:
                s, e = start, n
                while s < e and out[s] == " ":
                    s += 1
                while e > s and out[e - 1] == " ":
                    e -= 1
                if e > s:
                    for r in rid.split():
                        spans.append((s, e, r))
        while out and out[-1] == " ":
            out.pop()
        if not out:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.pos += 2
        block = "".join(out)
        self.citations.extend((self.pos + s, self.pos + e, r) for s, e, r in spans
                              if e <= len(block))
        self.parts.append(block)
        self.pos += len(block)

    def _inline(self, elem: etree._Element) -> list[tuple[str, str | None]]:
        pieces: list[tuple[str, str | None]] = [(elem.text or "", None)]
        for child in elem:
            if not isinstance(child.tag, str):
                pieces.append((child.tail or "", None))
                continue
            tag = _local(child.tag)
            if tag == "xref" and child.get("ref-type") == "bibr" and child.get("rid"):
                pieces.append((_itertext(child), child.get("rid")))
            elif tag not in ("table-wrap", "fig", "list", "disp-formula"):
                pieces.extend(self._inline(child))
            pieces.append((child.tail or "", None))
        return pieces

    def walk(self, elem: etree._Element, depth: int) -> None:
        for child in elem:
            if isinstance(child.tag, str):
                self.node(child, depth)

    def node(self, child: etree._Element, depth: int) -> None:
        tag = _local(child.tag)
        if tag == "sec":
            start = self.pos + (2 if self.parts else 0)
            title_el = next((c for c in child if _local(c.tag) == "title"), None)
            title = " ".join(_itertext(title_el).split()) if title_el is not None \
                else ""
            self.walk(child, depth + 1)
            self.sections.append(Section(start, self.pos, title,
                                         section_kind(title, child.get("sec-type") or ""),
                                         depth))
        elif tag in ("title", "label", "p", "caption-title"):
            self._emit(self._inline(child))
            for sub in child:   # lists and tables inside a paragraph are blocks of their own
                if isinstance(sub.tag, str) and _local(sub.tag) in ("list", "table-wrap",
                                                                     "boxed-text"):
                    self.node(sub, depth)
        elif tag == "table-wrap":
            start = self.pos + (2 if self.parts else 0)
            label = next((c for c in child if _local(c.tag) == "label"), None)
            cap = next((c for c in child if _local(c.tag) == "caption"), None)
            title = " ".join(" ".join(
                _itertext(e) for e in (label, cap) if e is not None).split())
            if title:
                self._emit([(title, None)])
            for row in child.iter("{*}tr", "tr"):
                pieces: list[tuple[str, str | None]] = []
                for i, cell in enumerate(c for c in row if _local(c.tag) in ("td", "th")):
                    if i:
                        pieces.append((" | ", None))
                    pieces.extend(self._inline(cell))
                self._emit(pieces)
            for foot in child.iter("{*}table-wrap-foot", "table-wrap-foot"):
                self.walk(foot, depth + 1)
            self.sections.append(Section(start, self.pos, title, "table", depth + 1))
        elif tag == "fig":
            cap = next((c for c in child if _local(c.tag) == "caption"), None)
            if cap is not None:
                self.walk(cap, depth + 1)
        elif tag in ("ref-list", "table", "disp-formula", "graphic", "media", "xref"):
            return
        else:   # list, list-item, boxed-text, def-list, caption, app ...
            self.walk(child, depth)


def _ref_text(ref: etree._Element) -> str:
    return " ".join("".join(str(t) for t in ref.itertext()).split())


def _jats_abstract(article: etree._Element) -> str:
    """The article's own ``<abstract>`` (not a graphical abstract or teaser), one line:
    structured parts as "Background: ..."; "" where there is none."""
    front = next((c for c in article if _local(c.tag) == "front"), None)
    if front is None:
        return ""
    found = list(front.iter("{*}abstract", "abstract"))
    plain = [a for a in found if not (a.get("abstract-type") or "").strip()]
    chosen = plain[0] if plain else next(
        (a for a in found if (a.get("abstract-type") or "").strip().lower()
         not in {"graphical", "teaser", "toc", "web-summary"}), None)
    if chosen is None:
        return ""
    blocks: list[str] = []
    for el in chosen.iter():
        tag = _local(el.tag)
        if tag not in ("title", "p") or any(_local(a.tag) == "p" for a in el.iterancestors()):
            continue
        t = " ".join(_itertext(el).split())
        if not t:
            continue
        if tag == "title":
            if t.lower() in ("abstract", "summary"):
                continue
            t = t if t[-1] in ":.?!" else t + ":"
        blocks.append(t)
    return " ".join(blocks) if blocks else " ".join(_itertext(chosen).split())


def from_jats(data: bytes) -> FullText | None:
    """The article body of a JATS document, or None where there is none (no open access)."""
    root = etree.fromstring(data, _PARSER) if data.strip() else None
    if root is None:
        return None
    article = root if _local(root.tag) == "article" else next(root.iter("{*}article",
                                                                        "article"), None)
    if article is None:
        return None
    body = next(article.iter("{*}body", "body"), None)
    if body is None:
        return None
    b = _JatsBuilder()
    b.walk(body, 0)
    text = "".join(b.parts)
    if not text.strip():
        return None
    refs: dict[str, str] = {}
    for ref in article.iter("{*}ref", "ref"):
        rid = ref.get("id")
        if rid:
            refs[rid] = _ref_text(ref)
    sections = tuple(sorted(b.sections, key=lambda s: (s.start, -s.end, s.depth)))
    cits = tuple(Citation(s, e, r) for s, e, r in sorted(b.citations) if r in refs)
    return FullText(text, "jats", sections, refs, cits, len(text),
                    (article.get("article-type") or "").strip().lower(),
                    _jats_abstract(article))


# --- plain text (PDF extraction) ----------------------------------------------------------------

_LIGATURES = {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
_KEEP_HYPHEN_PREFIX = re.compile(
    r"(?:^|\W)(?:post|pre|non|self|well|long|short|co|anti|multi|semi|sub|inter|intra|"
    r"follow|cross|double|single|case|age|sex|gender|placebo|low|high|mid|first|second|"
    r"third|ME|CFS|COVID|SARS|CoV|IL|TNF|HLA|type|t|x|two|three|four|five|ten)$",
    re.IGNORECASE)
_PAGE_LINE = re.compile(r"^\s*(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*$", re.I)


@dataclass(frozen=True, slots=True)
class View:
    """A normalised view of ``source``: ``text[i]`` comes from ``source[index[i]]``."""

    text: str
    index: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The source offsets of ``text[start:end]`` (end > start)."""
        return self.index[start], self.index[end - 1] + 1


#: page furniture recognised by its shape even on a one- or two-page text: production
#: stamps ("fnins-17-1125208 February 25, 2023 Time: 16:54 # 1"), article-type banners
#: ("ORIGINAL RESEARCH published: 05 February 2019 doi: ..."), journal footers
#: ("Frontiers in Neuroscience 01 frontiersin.org"), preprint licence lines, bare DOIs
_HEAD_SHAPE_RE = re.compile(
    r"^\s*(?:[a-z]{2,10}-\d{1,3}-\d{4,9}\s+\w+\s+\d{1,2},\s+\d{4}\s+Time:\s*\d{1,2}:\d{2}.*|"
    r"(?:ORIGINAL\s+RESEARCH|(?:MINI\s+|SYSTEMATIC\s+)?REVIEW|BRIEF\s+RESEARCH\s+REPORT|"
    r"PERSPECTIVE|OPINION|HYPOTHESIS\s+AND\s+THEORY|CASE\s+REPORT|METHODS|"
    r"CLINICAL\s+TRIAL|STUDY\s+PROTOCOL)\s+published:\s.*|"
    r"Frontiers\s+in\s+[A-Z][\w\s]{2,40}?(?:\|\s*)?(?:\d{1,3}\s+)?(?:www\.)?frontiersin\.org\b.*|"
    r".*\bmedRxiv\s+preprint\b.*\bdoi\b.*|.*\bdoi\b.*\bmedRxiv\s+preprint\b.*|"
    r"https?://doi\.org/\S+)\s*$")
#: a superscript citation glued to the word before it by PDF extraction: "Canadian
#: criteria6", "Fukuda Criteria64", "Chronic Fatigue Syndrome65"; the view brackets it
#: ("criteria[6]") so the word ends and the number reads as a citation
_GLUED_CITE_RE = re.compile(
    r"\b(?:criteria|criterion|definitions?|guidelines?|syndrome)(\d{1,3}(?:[,–-]\d{1,3}){0,4})"
    r"(?!\w)", re.IGNORECASE)


def _bracket_glued_citations(out: list[str], idx: list[int]) -> tuple[list[str], list[int]]:
    text = "".join(out)
    if not _GLUED_CITE_RE.search(text):
        return out, idx
    o2: list[str] = []
    i2: list[int] = []
    pos = 0
    for m in _GLUED_CITE_RE.finditer(text):
        a, b = m.start(1), m.end(1)
        o2.extend(out[pos:a])
        i2.extend(idx[pos:a])
        o2.append("[")
        i2.append(idx[a])
        o2.extend(out[a:b])
        i2.extend(idx[a:b])
        o2.append("]")
        i2.append(idx[b - 1])
        pos = b
    o2.extend(out[pos:])
    i2.extend(idx[pos:])
    return o2, i2


def _running_heads(lines: list[tuple[int, str]]) -> set[str]:
    keyed = Counter(re.sub(r"\d+", "#", s.strip()) for _, s in lines
                    if 0 < len(s.strip()) <= 90)
    return {k for k, n in keyed.items() if n >= 3 and not re.fullmatch(r"[#\W]*", k)
            and len(k) >= 6}


def normalised_view(text: str, start: int = 0, end: int | None = None) -> View:
    """``text[start:end]`` without running heads and page numbers, hyphenation joined,
    ligatures expanded and line ends kept; every character maps back into ``text``."""
    end = len(text) if end is None else end
    lines: list[tuple[int, str]] = []
    pos = start
    for line in text[start:end].splitlines(keepends=True):
        lines.append((pos, line))
        pos += len(line)
    heads = _running_heads(lines)
    out: list[str] = []
    idx: list[int] = []
    for li, (lpos, line) in enumerate(lines):
        body = line.rstrip("\r\n")
        key = re.sub(r"\d+", "#", body.strip())
        if _PAGE_LINE.match(body) or key in heads or _HEAD_SHAPE_RE.match(body):
            continue
        nl = line[len(body):]
        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\u00ad":
                i += 1
                continue
            rep = _LIGATURES.get(ch)
            if rep is not None:
                out.extend(rep)
                idx.extend([lpos + i] * len(rep))
            else:
                out.append(" " if ch in "\u00a0\u2009\t" else ch)
                idx.append(lpos + i)
            i += 1
        # "fa-\ntigue" -> "fatigue"; "post-\nexertional" -> "post-exertional"
        nxt = next((ln for _, ln in lines[li + 1:li + 3]
                    if not _PAGE_LINE.match(ln.rstrip("\r\n"))
                    and not _HEAD_SHAPE_RE.match(ln.rstrip("\r\n"))
                    and re.sub(r"\d+", "#", ln.strip()) not in heads), "")
        if nl and body.endswith("\u00ad"):
            continue                            # a soft hyphen at a line end: one word
        if nl and len(body) >= 2 and body.endswith("-") and body[-2].isalpha() and \
                nxt[:1].islower():
            word = re.search(r"[\w/]+-$", body)
            if word and _KEEP_HYPHEN_PREFIX.search(word.group()[:-1]):
                continue                        # keep the hyphen, drop the line break
            out.pop()
            idx.pop()
            continue
        if nl:
            out.append("\n")
            idx.append(lpos + len(body))
    out, idx = _bracket_glued_citations(out, idx)
    return View("".join(out), tuple(idx))


_HEADING_WORDS = re.compile(
    rf"^(?P<num>{_NUM})(?P<title>(?:{_METHODS_T}|{_ELIGIBILITY_T}|{_END_T}|abstract|"
    r"statistical\s+analys[ie]s|keywords))(?P<rest>\s*[:.]?\s*(?P<after>.*))$", re.IGNORECASE)


def _headings(view: View) -> list[tuple[int, int, str]]:
    """(view start of the line, view start of the next line, title) of each heading line."""
    out: list[tuple[int, int, str]] = []
    pos = 0
    for line in view.text.splitlines(keepends=True):
        s = line.strip()
        lpos = pos
        pos += len(line)
        if not s or len(s) > 160:
            continue
        m = _HEADING_WORDS.match(s)
        if not m:
            continue
        title, after, rest = m.group("title"), m.group("after"), m.group("rest")
        if after:
            # a run-in heading: "Participants. Thirty women ..." / "Methods: We ..."
            if not re.match(r"\s*[:.]\s", rest) or len(title) < 5:
                continue
            if not (title[:1].isupper()):
                continue
        elif title[:1].islower() and not m.group("num"):
            continue
        out.append((lpos, pos, title))
    return out


_REF_ENTRY = re.compile(r"^\s*\[?(\d{1,3})[\].]?(?:\s+|$)(?=\S|$)", re.MULTILINE)


def _plain_references(view: View, start: int) -> dict[str, str]:
    """Numbered entries after the references heading (view offsets) -> entry text."""
    text = view.text[start:]
    starts: list[tuple[int, str]] = []
    expect = 1
    for m in _REF_ENTRY.finditer(text):
        n = int(m.group(1))
        if n == expect or (starts and n == expect and n < 400):
            starts.append((m.start(), m.group(1)))
            expect += 1
    refs: dict[str, str] = {}
    for i, (s, num) in enumerate(starts):
        e = starts[i + 1][0] if i + 1 < len(starts) else min(len(text), s + 1500)
        refs[num] = " ".join(text[s:e].split())
    return refs


_TABLE_CAPTION_RE = re.compile(r"^[ \t]*Table[ \t]+[A-Z]?\d{1,2}[.:|]?(?:[ \t]+\S.*)?$",
                               re.MULTILINE)
_TABLE_SPAN = 2500


def from_plain(text: str) -> FullText:
    """Sections, the reference list and its entries of a plain text; ``text`` unchanged."""
    view = normalised_view(text)
    heads = _headings(view)
    sections: list[Section] = []
    for i, (hs, _he, title) in enumerate(heads):
        kind = section_kind(title)
        # a section runs to the next heading of its level: methods to the next end heading,
        # an eligibility subsection to the next heading of any kind
        stop = len(view.text)
        for hs2, _, t2 in heads[i + 1:]:
            k2 = section_kind(t2)
            if kind == "methods" and k2 not in ("end", "references", "methods"):
                continue
            stop = hs2
            break
        a, b = view.span(hs, max(hs + 1, stop))
        sections.append(Section(a, b, title, kind, 1 if kind == "eligibility" else 0))
    # tables: a "Table 2 Inclusion and exclusion criteria" caption line and what follows it,
    # up to the next heading (at most _TABLE_SPAN characters of the view)
    starts = [h[0] for h in heads]
    for m in _TABLE_CAPTION_RE.finditer(view.text):
        hs = m.start()
        nxt = next((h for h in starts if h > hs), len(view.text))
        stop = min(nxt, hs + _TABLE_SPAN, len(view.text))
        title = " ".join(view.text[hs:min(m.end() + 120, stop)].split())[:200]
        a, b = view.span(hs, max(hs + 1, stop))
        sections.append(Section(a, b, title, "table", 1))
    sections.sort(key=lambda s: (s.start, -s.end, s.depth))
    ref_heads = [h for h in heads if section_kind(h[2]) == "references"]
    refs: dict[str, str] = {}
    body_end = -1
    if ref_heads:
        hs, he, _ = ref_heads[-1]
        body_end = view.index[hs]
        refs = _plain_references(view, he)
    return FullText(text, "plain", tuple(sections), refs, (), body_end)


def document(data: bytes | str, fmt: str) -> FullText | None:
    """A full text from stored bytes (``jats``) or text (``plain``)."""
    if fmt == "jats":
        return from_jats(data if isinstance(data, bytes) else data.encode("utf-8"))
    return from_plain(data if isinstance(data, str) else data.decode("utf-8", "replace"))


def merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        elif e > s:
            out.append((s, e))
    return out
