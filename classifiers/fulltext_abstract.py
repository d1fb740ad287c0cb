"""The paper's abstract taken from its full text, for records whose PubMed abstract is empty.

:func:`abstract_from_fulltext` reads

* a JATS document's ``<abstract>`` (:attr:`FullText.abstract`, kept by ``from_jats``);
* a plain text (PDF extraction) through the normalised view of ``document.py`` (running
  heads, page numbers and production stamps dropped, hyphenation joined, ligatures
  expanded), with the front-matter blocks of Frontiers papers ("OPEN ACCESS", "EDITED BY"
  ... "COPYRIGHT" ... "does not comply with these terms.") removed as well. The abstract is
  the text after an abstract heading ("Abstract", "ABSTRACT", "a b s t r a c t", "Summary",
  "Abstract: ...") up to the keywords line, the introduction heading or other end-of-abstract
  furniture (copyright line, correspondence, article history). Without a heading: the
  structured abstract that starts at its first part ("Background:", "Introduction:",
  "Objective:" ...), else the prose paragraph(s) just before the first keywords line or
  introduction heading, else the first prose paragraph, else the start of the body text.

Regular expressions only: deterministic and fast. The reference list is never read (the
text ends at :attr:`FullText.refs_start`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .document import _KEEP_HYPHEN_PREFIX, FullText, normalised_view

__all__ = ["abstract_from_fulltext"]

#: "Abstract", "ABSTRACT", "a b s t r a c t", "A B S T R A C T", "Summary", "SUMMARY",
#: with an optional colon and the abstract's first words on the same line
_ABS_HEAD = re.compile(
    r"^(?P<head>Abstract|ABSTRACT|[Aa]\s[Bb]\s[Ss]\s[Tt]\s[Rr]\s[Aa]\s[Cc]\s[Tt]|Summary|SUMMARY)"
    r"(?P<colon>\s*[:.])?(?:\s+(?P<rest>\S.*))?$")
#: PMC's flattened text: "ABSTRACT.BACKGROUND:", "ABSTRACT.METHODS:", then "BODY.INTRODUCTION:"
_PMC_ABS = re.compile(r"^ABSTRACT(?:\.(?P<part>[A-Z][A-Z /&,-]*))?:\s*(?P<rest>.*)$")
_PMC_BODY = re.compile(r"^(?:BODY|BACK|FRONT|TITLE)[.:]")
#: the parts of a structured abstract: "Background:", "Objective:", "Background<en space>",
#: "Methods" (run-in or on a line of their own)
_PARTS = (r"Background|Introduction|Objectives?|Aims?(?:\s+and\s+objectives?)?|Purpose|"
          r"Context|Rationale|Importance|Motivation|Methods?|Materials\s+and\s+methods|"
          r"Design|Setting|Participants|Patients|Interventions?|Results?|Findings|"
          r"Conclusions?|Interpretation|Discussion|Funding|Trial\s+registration")
_FIRST_PART = re.compile(
    r"^(?:Background|Introduction|Objectives?|Aims?(?:\s+and\s+objectives?)?|Purpose|"
    r"Context|Rationale|Importance|Motivation)\s*:\s*\S")
_PART_RUN_IN = re.compile(rf"^(?:{_PARTS})(?:\s*:|\u2002|\u2003|\s{{2,}}|\s+(?=[A-Z]))",
                          re.IGNORECASE)
_PART_ALONE = re.compile(rf"^(?:{_PARTS})\s*:?$", re.IGNORECASE)
#: the line that opens the paper's body: "Introduction", "1. Introduction", "INTRODUCTION",
#: "Background" (a heading on a line of its own, not the "Background:" part of an abstract)
_INTRO_HEAD = re.compile(
    r"^(?:(?:\d{1,2}|[IVX]{1,4})\.?\s*(?:\|\s*)?)?(?:Introduction|INTRODUCTION|I\sN\sT\sR\sO\sD\sU\sC\sT"
    r"\sI\sO\sN|Background|BACKGROUND|Main|MAIN)$")
_KEYWORDS = re.compile(r"^(?:KEYWORDS|K\sE\sY\sW\sO\sR\sD\sS|Key\s?words?|KEY\s?WORDS?|"
                       r"Index\s+terms)\b", re.IGNORECASE)
#: furniture after the abstract that is not part of it
_ABS_END = re.compile(
    r"^(?:©|\(c\)\s*\d{4}|Copyright\b|\*\s*Correspond|Correspond(?:ence|ing\s+author)\b|"
    r"E-?mail(?:\s+address(?:es)?)?\s*:|Article\s+history|A\s*R\s*T\s*I\s*C\s*L\s*E\s+I\s*N\s*F\s*O|"
    r"Abbreviations\s*:?$|Highlights$|HIGHLIGHTS$|Graphical\s+abstract|Received\s*:?\s+\d|"
    r"Available\s+online\b|https?://doi\.org/|Full\s+list\s+of\s+author\s+information|"
    r"This\s+article\s+is\s+part\s+of|[☆★]|One\s+sentence\s+summary)", re.IGNORECASE)
#: a front-matter block starts with one of these lines (Frontiers' OPEN ACCESS / EDITED BY /
#: Edited by:, MDPI's Academic Editor: side bar) ...
_FM_START = re.compile(r"^(?:OPEN\s+ACCESS|EDITED\s+BY|Edited\s+by:|Academic\s+Editors?:.*)$")
#: ... holds labelled parts ...
_FM_LABEL = re.compile(
    r"^(?:OPEN\s+ACCESS|EDITED\s+BY|REVIEWED\s+BY|\*?\s*CORRESPONDENCE|SPECIALTY\s+SECTION|"
    r"RECEIVED|REVISED|ACCEPTED|PUBLISHED|CORRECTED|CITATION|COPYRIGHT|TYPE|DOI|"
    r"(?:Edited|Reviewed)\s+by:|\*?Correspondence:|Specialty\s+section:|Received:|"
    r"Accepted:|Published:|Citation:|Copyright:)(?:\s|$)")
#: ... and ends with the licence sentence or the citation's DOI
_FM_LICENCE_END = re.compile(r"(?:these\s+terms|\blicen[cs]e|licenses/by/\S*)\.?\)?\.?$")
_FM_DOI = re.compile(r"^doi:\s*10\.\d{4,9}/\S+$", re.IGNORECASE)
_FM_TAIL = re.compile(r"^(?:TYPE|PUBLISHED|DOI|RECEIVED|ACCEPTED|REVISED|CORRECTED)\s+\S")
_FM_MAX_LINES = 90
#: furniture inside or after an abstract: licences, preprint notices, manuscript banners
_FURNITURE = re.compile(
    r"creative\s*commons|open[-\s]access\s+article|distributed\s+under|\blicen[cs]e\b|"
    r"\bcopyright\b|©|\bmedRxiv\b|\bbioRxiv\b|certified\s+by\s+peer\s+review|"
    r"this\s+version\s+posted|all\s+rights\s+reserved|HHS\s+Public\s+Access|"
    r"Author\s+manuscript|to\s+whom\s+correspondence|^\d{4}\s+(?:The\s+Authors?|Elsevier)\b|"
    r"^doi\b",
    re.IGNORECASE)
#: boxes that follow an abstract: lay summary, significance statement, highlights
_OTHER_BOX = re.compile(
    r"^(?:LAY\s+SUMMARY|Lay\s+summary|Plain\s+language\s+summary|PLAIN\s+LANGUAGE\s+SUMMARY|"
    r"Author\s+summary|AUTHOR\s+SUMMARY|Significance(?:\s+statement)?|SIGNIFICANCE|"
    r"Research\s+in\s+context|Highlights|HIGHLIGHTS|Graphical\s+abstract|"
    r"GRAPHICAL\s+ABSTRACT|Contents|CONTENTS|Word\s+count)\s*:?(?:\s|$)")
#: lines that are affiliations, addresses, licences or journal furniture, never abstract prose
_NOT_PROSE = re.compile(
    r"@|\bUniversit(?:y|ät|é|à|at|ade|ad)\b|\bInstitut(?:e|o|et)?\b|\bDepartment\b|"
    r"\bDept\.|\bFaculty\b|\bSchool\s+of\b|\bCollege\s+of\b|\bLaborator(?:y|ies)\b|"
    r"\bDivision\s+of\b|\bCent(?:re|er)\s+for\b|\bReceived\b|\bAccepted\b|\bPublished\b|"
    r"\bCheck\s+for\s+updates\b|(?i:\bdoi\b|https?://|www\.|\baffiliations?\b|"
    r"\bcorrespond(?:ence|ing)\b|\bcontributed\s+equally\b)")
_AFFIL_START = re.compile(r"^(?:\d{1,2}|[a-h]|[*†‡§¶#])\s?[A-Z][a-z]+")
#: an author with an affiliation number: "Kiran Thapaliya1,2*", "Horstmeier2"
_AUTHOR = re.compile(r"[A-Z][a-zà-ÿ'’-]+\s?\d{1,2}(?:\s?,\s?\d{1,2})*\s?[*†‡]?"
                     r"(?=\s*(?:,|and\b|&|$))")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_MIN_FALLBACK = 250             # a heading-less abstract has at least this many characters
_FRONT_CHARS = 20000            # without an introduction heading, look this far for one


@dataclass(frozen=True, slots=True)
class _Line:
    text: str                   # stripped line of the normalised view
    width: int                  # widest line of the text as read that it comes from
    last: int                   # length of the last of those lines


def _lines(text: str) -> list[_Line]:
    """The normalised view's lines (stripped, zero-width characters removed), each with the
    widths of the lines as read (a hyphen join makes a view line longer than a PDF line)."""
    view = normalised_view(text)
    out: list[_Line] = []
    pos = 0
    for raw in view.text.split("\n"):
        start, pos = pos, pos + len(raw) + 1
        s = _ZERO_WIDTH.sub("", raw).strip()
        if not any(ch.isalnum() for ch in s):
            out.append(_Line("", 0, 0))
            continue
        a, b = view.span(start, start + len(raw))
        phys = [len(x.strip()) for x in text[a:b].split("\n")]
        out.append(_Line(s, max(phys), phys[-1]))
    return out


def _cap(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip()


def _to_sentence_end(text: str) -> str:
    """``text`` up to its last full stop (an abstract interrupted by page furniture)."""
    ends = [m.end() for m in re.finditer(r"[.!?][)\]]?(?=\s|$)", text)]
    return text[:ends[-1]] if ends and ends[-1] >= len(text) // 3 else text


def _join(lines: list[str]) -> str:
    """Lines to one string; a word broken at a line end across dropped furniture joined."""
    out = ""
    for line in lines:
        s = line.strip()
        if not s:
            continue
        if not out:
            out = s
            continue
        word = re.search(r"[\w/]+[-\u2010\u2011]$", out)
        if word and len(out) >= 2 and out[-2].isalpha() and s[:1].islower():
            if _KEEP_HYPHEN_PREFIX.search(word.group()[:-1]):
                out = out[:-1] + "-" + s
            else:
                out = out[:-1] + s
        else:
            out += " " + s
    return out


def _drop_front_matter(lines: list[_Line]) -> list[_Line]:
    """The lines without Frontiers' OPEN ACCESS / EDITED BY ... COPYRIGHT blocks and MDPI's
    Academic Editor ... licence side bar."""
    keep = [True] * len(lines)
    i = 0
    while i < len(lines):
        if not _FM_START.match(lines[i].text):
            i += 1
            continue
        end = -1
        for j in range(i + 1, min(len(lines), i + _FM_MAX_LINES)):
            s = lines[j].text
            if _FM_LICENCE_END.search(s):
                end = j
                break
            if _FM_DOI.match(s):
                nxt = next((t.text for t in lines[j + 1:j + 3] if t.text), "")
                if not _FM_LABEL.match(nxt):
                    end = j
                    break
        if end < 0:
            i += 1
            continue
        while end + 1 < len(lines) and (_FM_TAIL.match(lines[end + 1].text)
                                        or not lines[end + 1].text):
            end += 1
        for k in range(i, end + 1):
            keep[k] = False
        i = end + 1
    return [ln for ln, k in zip(lines, keep, strict=True) if k]


def _is_prose(s: str) -> bool:
    """A line of running sentences: long enough, mostly lower-case words, not furniture."""
    if len(s) < 30 or _NOT_PROSE.search(s) or _FURNITURE.search(s) or _AFFIL_START.match(s) \
            or s.count("|") >= 2:
        return False
    words: list[str] = _WORD.findall(s)
    if len(words) < 5:
        return False
    return sum(w[0].islower() for w in words) / len(words) >= 0.45


def _is_author_line(s: str) -> bool:
    """A line of author names with affiliation numbers ("Lotte Habermann-Horstmeier1*")."""
    words: list[str] = _WORD.findall(s)
    return bool(_AUTHOR.search(s)) and bool(words) and \
        sum(w[0].islower() and w != "and" for w in words) / len(words) < 0.25


def _is_intro(s: str) -> bool:
    return bool(_INTRO_HEAD.match(s))


_LATE_PART = re.compile(r"^(Conclusions?|Interpretation|Funding|Trial\s+registration)"
                        r"(?:\s*:|\u2002|\u2003|\s{2,}|\s+(?=[A-Z]))")
_RESUME_LINES = 20


def _resume(lines: list[_Line], i: int, got: list[str]) -> int | None:
    """Where the abstract goes on after furniture, within a few lines and before any keywords
    line or introduction heading: a closing part ("Conclusion:") not seen yet, or, where the
    text so far stops mid-sentence, prose that starts a page in lower case."""
    seen = " ".join(got)
    open_sentence = not re.search(r"[.!?][)\]]?$", seen)
    for k in range(i, min(i + _RESUME_LINES, len(lines))):
        s = lines[k].text
        if _KEYWORDS.match(s) or _is_intro(s):
            return None
        m = _LATE_PART.match(s)
        if m and not re.search(rf"(?:^|[.\s]){m.group(1)}(?:\s*:|\s)", seen):
            return k
        if open_sentence and s[:1].islower() and not lines[k - 1].text and _is_prose(s):
            return k
    return None


def _collect(lines: list[_Line], start: int, first: str = "", limit: int = 3000) -> str:
    """From ``lines[start]`` on, up to the keywords line, the introduction heading or other
    end-of-abstract furniture (``first``: text on the heading line after the heading)."""
    got: list[str] = [first] if first else []
    size = len(first)
    i = start
    while i < len(lines):
        s = lines[i].text
        i += 1
        if not s:
            continue
        pmc = _PMC_ABS.match(s)
        if pmc:
            part = (pmc.group("part") or "").strip().capitalize()
            s = f"{part}: {pmc.group('rest')}" if part else pmc.group("rest")
            if not s.strip():
                continue
        elif _PMC_BODY.match(s):
            break
        if not got:
            # before the first words: Elsevier's "a r t i c l e i n f o" column, history
            if _PART_RUN_IN.match(s) or _PART_ALONE.match(s) or (
                    len(s) >= 40 and not (_NOT_PROSE.search(s) or _FURNITURE.search(s)
                                          or _ABS_END.match(s) or _KEYWORDS.match(s))):
                got.append(s)
                size += len(s)
            elif _is_intro(s) or i - start > 40:
                break
            continue
        if _KEYWORDS.match(s) or _OTHER_BOX.match(s) or _FM_START.match(s) or \
                (_is_intro(s) and size >= 150):
            break
        if _ABS_END.match(s) or _FURNITURE.search(s) or _is_author_line(s):
            # a licence, a correspondence note or the title block interrupts the abstract;
            # Wiley and Lancet papers continue it ("Conclusion: ...", "Interpretation ...")
            # after that furniture
            resume = None if _is_author_line(s) else _resume(lines, i, got)
            if resume is None:
                return _to_sentence_end(_join(got))
            i = resume
            continue
        got.append(s)
        size += len(s) + 1
        if size > limit + 200:
            return _join(got)
    return _to_sentence_end(_join(got))


def _front_end(lines: list[_Line]) -> int:
    """Index of the introduction heading (the end of the front zone)."""
    chars = 0
    for i, line in enumerate(lines):
        if i > 0 and _is_intro(line.text):
            return i
        chars += len(line.text) + 1
        if chars > _FRONT_CHARS:
            return i
    return len(lines)


def _abstract_heading(lines: list[_Line], stop: int) -> tuple[int, str] | None:
    """(index of the line after the heading, text on the heading line after it)."""
    for i in range(min(stop, len(lines))):
        pmc = _PMC_ABS.match(lines[i].text)
        if pmc:
            return i, ""
        m = _ABS_HEAD.match(lines[i].text)
        if not m:
            continue
        rest = m.group("rest") or ""
        if rest and not (m.group("colon") or m.group("head").lower().startswith("a")
                         or _PART_RUN_IN.match(rest)):
            continue                    # "Summary of findings ..." is a sentence
        return i + 1, rest
    return None


def _before_terminator(lines: list[_Line], stop: int, limit: int) -> str:
    """The prose just before the first keywords line or introduction heading."""
    for t in range(1, min(stop + 1, len(lines))):
        s = lines[t].text
        if not (_KEYWORDS.match(s) or _is_intro(s)):
            continue
        k = t - 1
        start = t
        while k >= 0:
            cur = lines[k].text
            if not cur:
                k -= 1
                continue
            above = lines[k - 1].text if k > 0 else ""
            # the short last line of a paragraph ("included.") belongs to the prose above it
            tail = (re.search(r"[a-z0-9)\].%]$", cur) is not None and _is_prose(above)
                    and not _NOT_PROSE.search(cur) and not _FURNITURE.search(cur)
                    and not _KEYWORDS.match(cur))
            if not (_is_prose(cur) or tail or _PART_RUN_IN.match(cur)):
                break
            start = k
            k -= 1
        text = _join([ln.text for ln in lines[start:t]])
        if len(text) >= _MIN_FALLBACK:
            return _cap(text, limit)
    return ""


def _first_paragraph(lines: list[_Line], stop: int, limit: int) -> str:
    """The first run of at least three prose lines (or one long line of unwrapped text), to
    its paragraph end."""
    i = 0
    n = min(stop, len(lines))
    while i < n:
        if not _is_prose(lines[i].text):
            i += 1
            continue
        j = i
        widest = 0
        while j < len(lines):
            ln = lines[j]
            s = ln.text
            if not s or _KEYWORDS.match(s) or _is_intro(s) or _ABS_END.match(s) or \
                    _OTHER_BOX.match(s):
                break
            if not _is_prose(s) and not (j > i and re.search(r"[.)\]]$", s)
                                         and not _FURNITURE.search(s)):
                break
            widest = max(widest, ln.width)
            j += 1
            # a sentence end on a line clearly shorter than the paragraph's: paragraph end
            if j - i >= 3 and s.endswith(".") and ln.last < 0.8 * widest:
                break
        text = _join([ln.text for ln in lines[i:j]])
        if (j - i >= 3 or widest >= _MIN_FALLBACK) and len(text) >= _MIN_FALLBACK:
            return _cap(text, limit)
        i = max(j, i + 1)
    return ""


def _plain_abstract(text: str, limit: int) -> str:
    lines = _drop_front_matter(_lines(text))
    stop = _front_end(lines)
    head = _abstract_heading(lines, stop)
    if head is not None:
        found = _collect(lines, head[0], head[1], limit)
        if found.strip():
            return _cap(found, limit)
    for i in range(min(stop, len(lines))):
        if _FIRST_PART.match(lines[i].text):
            return _cap(_collect(lines, i, "", limit), limit)
    for finder in (_before_terminator, _first_paragraph):
        found = finder(lines, stop, limit)
        if found:
            return found
    body = [ln.text for ln in lines if _is_prose(ln.text)]
    return _cap(_join(body or [ln.text for ln in lines]), limit)


def abstract_from_fulltext(doc: FullText, *, limit: int = 3000) -> str:
    """The paper's abstract from its full text, one line of at most ``limit`` characters;
    "" for an empty document. JATS: the ``<abstract>`` (else the start of the body)."""
    if limit <= 0 or not doc.text.strip():
        return ""
    if doc.format == "jats" and doc.abstract.strip():
        return _cap(doc.abstract, limit)
    return _plain_abstract(doc.text[:doc.refs_start], limit)
