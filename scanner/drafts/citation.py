"""One record as a citation: Vancouver-like text, a BibTeX entry and an RIS record.

Only the record's own fields are used. BibTeX values are escaped so that any title parses:
LaTeX specials are written as commands and braces as ``\\textbraceleft{}`` /
``\\textbraceright{}``, because BibTeX counts every brace, escaped or not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

VANCOUVER_MAX_AUTHORS = 6

_BIBTEX_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\textbraceleft{}", "}": r"\textbraceright{}",
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_BIBTEX_RE = re.compile("|".join(re.escape(c) for c in _BIBTEX_SPECIALS))


def one_line(text: Any) -> str:
    return " ".join(str(text).split()) if text is not None else ""


def bibtex_escape(text: Any) -> str:
    """``text`` safe inside a braced BibTeX value (one line, balanced braces)."""
    return _BIBTEX_RE.sub(lambda m: _BIBTEX_SPECIALS[m.group()], one_line(text))


def retraction_pmids(record: Mapping[str, Any], ref_type: str = "retractionin") -> list[str]:
    return [c["pmid"] for c in record.get("comments_corrections") or ()
            if (c.get("ref_type") or "").replace(" ", "").lower() == ref_type and c.get("pmid")]


def is_retracted(record: Mapping[str, Any]) -> bool:
    return bool(record.get("is_retracted")
                or "Retracted Publication" in (record.get("publication_types") or ())
                or retraction_pmids(record))


def _authors(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [a for a in record.get("authors") or () if isinstance(a, Mapping)
            and (a.get("last_name") or a.get("collective_name"))]


def vancouver_author(a: Mapping[str, Any]) -> str:
    if a.get("collective_name") and not a.get("last_name"):
        return one_line(a["collective_name"])
    initials = a.get("initials") or "".join(
        w[0] for w in re.split(r"[\s-]+", a.get("fore_name") or "") if w)
    return one_line(f"{a['last_name']} {initials}")


def full_author(a: Mapping[str, Any]) -> str:
    """"Last, First" (RIS and BibTeX order); a collective name as it is."""
    if a.get("collective_name") and not a.get("last_name"):
        return one_line(a["collective_name"])
    first = a.get("fore_name") or a.get("initials") or ""
    return one_line(f"{a['last_name']}, {first}" if first else a["last_name"])


def _end(text: str) -> str:
    text = one_line(text)
    return text if not text or text[-1] in ".?!" else text + "."


def citation_text(record: Mapping[str, Any]) -> str:
    """``Authors. Title. Journal. Year;Vol(Issue):Pages. doi:… PMID: … PMCID: …``."""
    names = [vancouver_author(a) for a in _authors(record)]
    if len(names) > VANCOUVER_MAX_AUTHORS:
        names = [*names[:VANCOUVER_MAX_AUTHORS], "et al"]
    parts = [_end(", ".join(names))] if names else []
    if record.get("title"):
        parts.append(_end(record["title"]))
    journal = record.get("journal_iso") or record.get("journal")
    if journal:
        parts.append(_end(journal))
    year = one_line(record.get("pub_year") or "")
    volume, issue, pages = (one_line(record.get(k) or "") for k in ("volume", "issue", "pages"))
    where = year + (f";{volume}" if volume else "") + (f"({issue})" if issue else "")
    where += f":{pages}" if pages and (volume or issue) else ""
    if where:
        parts.append(_end(where))
    if record.get("doi"):
        parts.append(f"doi:{one_line(record['doi'])}.")
    parts.append(f"PMID: {record['pmid']}.")
    if record.get("pmcid"):
        parts.append(f"PMCID: {record['pmcid']}.")
    if is_retracted(record):
        pmids = retraction_pmids(record)
        parts.append("Retraction in: " + (f"PMID {', '.join(pmids)}." if pmids
                                           else "see PubMed."))
    return " ".join(parts)


def bibtex_key(record: Mapping[str, Any]) -> str:
    authors = _authors(record)
    name = (authors[0].get("last_name") or authors[0].get("collective_name") or "") \
        if authors else ""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9]", "", ascii_name)[:30] or "pmid"
    return f"{stem}{record.get('pub_year') or ''}_{record['pmid']}"


def _bibtex_author(a: Mapping[str, Any]) -> str:
    if a.get("collective_name") and not a.get("last_name"):
        return "{" + bibtex_escape(a["collective_name"]) + "}"   # one name, never split
    return bibtex_escape(full_author(a))


def bibtex_entry(record: Mapping[str, Any], *, notes: Sequence[str] = ()) -> str:
    """A BibTeX ``@article`` (``@book`` for a book record); ``notes`` join the note field."""
    fields: list[tuple[str, str]] = []
    authors = _authors(record)
    if authors:
        fields.append(("author", " and ".join(_bibtex_author(a) for a in authors)))
    title = one_line(record.get("title") or "").removesuffix(".")
    fields.append(("title", "{" + bibtex_escape(title) + "}"))
    journal = record.get("journal") or record.get("journal_iso")
    is_book = record.get("kind") == "book"
    if journal:
        fields.append(("booktitle" if is_book else "journal", bibtex_escape(journal)))
    for key, name in (("pub_year", "year"), ("volume", "volume"), ("issue", "number"),
                      ("pages", "pages")):
        if record.get(key):
            value = bibtex_escape(record[key])
            fields.append((name, value.replace("-", "--") if name == "pages" else value))
    if record.get("doi"):
        doi = one_line(record["doi"]).replace("{", "%7B").replace("}", "%7D")
        fields.append(("doi", doi))
    fields.append(("pmid", bibtex_escape(record["pmid"])))
    note = []
    if record.get("pmcid"):
        fields.append(("pmcid", bibtex_escape(record["pmcid"])))
        note.append(f"PMCID: {record['pmcid']}")
    if is_retracted(record):
        pmids = retraction_pmids(record)
        note.append("Retracted" + (f"; retraction notice PMID {', '.join(pmids)}" if pmids
                                   else ""))
    note.extend(one_line(n) for n in notes if n)
    if note:
        fields.append(("note", bibtex_escape(". ".join(note))))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{'book' if is_book else 'article'}{{{bibtex_key(record)},\n{body}\n}}"


def ris_entry(record: Mapping[str, Any], *, abstract: str | None = None,
              notes: Sequence[str] = ()) -> str:
    """One RIS record (``TY`` … ``ER``); ``abstract`` goes to AB, ``notes`` to N1 lines."""
    lines = [("TY", "BOOK" if record.get("kind") == "book" else "JOUR")]
    lines.append(("TI", one_line(record.get("title") or "").removesuffix(".")))
    lines.extend(("AU", full_author(a)) for a in _authors(record))
    journal = record.get("journal") or record.get("journal_iso")
    if journal:
        lines.append(("T2" if record.get("kind") == "book" else "JO", one_line(journal)))
    if record.get("journal_iso") and record.get("journal"):
        lines.append(("J2", one_line(record["journal_iso"])))
    for key, tag in (("pub_year", "PY"), ("volume", "VL"), ("issue", "IS")):
        if record.get(key):
            lines.append((tag, one_line(record[key])))
    if record.get("pages"):
        first, _, last = one_line(record["pages"]).partition("-")
        lines.append(("SP", first))
        if last:
            lines.append(("EP", last))
    if record.get("doi"):
        lines.append(("DO", one_line(record["doi"])))
    lines += [("AN", f"PMID: {record['pmid']}"), ("ID", str(record["pmid"]))]
    if record.get("pmcid"):
        lines.append(("C2", one_line(record["pmcid"])))
    lines.append(("UR", f"https://pubmed.ncbi.nlm.nih.gov/{record['pmid']}/"))
    if abstract:
        lines.append(("AB", one_line(abstract)))
    if is_retracted(record):
        pmids = retraction_pmids(record)
        lines.append(("N1", "Retracted" + (f"; retraction notice PMID {', '.join(pmids)}"
                                           if pmids else "")))
    lines.extend(("N1", one_line(n)) for n in notes if n)
    return "\n".join(f"{tag}  - {value}" for tag, value in lines) + "\nER  - \n"


# --- notices and leads ----------------------------------------------------------------------

_REGISTRY = re.compile(r"\b(?:NCT\d{8}|ISRCTN\d{8}|ACTRN\d{14}|DRKS\d{8}|ChiCTR[-\w]*\d|"
                       r"EUCTR[\d-]+|CTRI/\d{4}/\d+/\d+|UMIN\d{9}|jRCT\w+)\b")


def retraction_notice(record: Mapping[str, Any], retracted: bool) -> dict[str, Any] | None:
    sources = {c.get("pmid"): one for c in record.get("comments_corrections") or ()
               if (one := c.get("ref_source"))}
    pmids = retraction_pmids(record)
    if retracted:
        where = "; ".join(f"PMID {p}" + (f" ({sources[p]})" if p in sources else "")
                          for p in pmids)
        return {"kind": "retraction", "pmids": pmids,
                "notice": "Retracted: this paper has been retracted"
                          + (f" (retraction notice: {where})" if where else "")
                          + ". Its findings must not be used as evidence."}
    concern = retraction_pmids(record, "expressionofconcernin")
    if concern:
        return {"kind": "expression_of_concern", "pmids": concern,
                "notice": "Expression of concern: one has been published about this paper "
                          f"(PMID {', '.join(concern)}). Treat its findings with caution."}
    return None


def record_leads(record: Mapping[str, Any]) -> tuple[str, ...]:
    leads: list[str] = []
    listed: set[str] = set()
    for name, accessions in record.get("databanks") or ():
        for acc in accessions:
            listed.add(acc)
            if "clinicaltrials" in (name or "").lower().replace(".", "").replace(" ", ""):
                leads.append(f"Trial registry {acc} listed in the record's data banks "
                             f"({name}): its eligibility criteria may name the case definition")
            else:
                leads.append(f"{name} accession {acc} listed in the record's data banks")
    for m in _REGISTRY.finditer(record.get("abstract") or ""):
        if m.group() not in listed:
            listed.add(m.group())
            leads.append(f"Trial registry {m.group()} named in the abstract")
    if record.get("pmcid"):
        leads.append(f"Full text in PubMed Central ({record['pmcid']}): its methods section "
                     "usually names the case definition")
    for pmid in retraction_pmids(record, "erratumin"):
        leads.append(f"Erratum published: PMID {pmid}")
    return tuple(leads)
