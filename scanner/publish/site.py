"""The public evidence pages: one renderer for the static site (``scanner publish``) and
the pages the web app serves under ``/evidence/``.

Pages are Jinja2 templates (``templates/``), autoescaped, with one local stylesheet
(print rules included) and no script, so they work without JavaScript and under the
review app's Content-Security-Policy. :class:`Urls` is the only difference between the
two: where the home page, the entries and the stylesheet live.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape as xml_escape

import jinja2
from markupsafe import Markup

from classifiers.policy import Policy

from .. import __version__
from ..drafts.citation import bibtex_escape, full_author, ris_entry, vancouver_author
from ..errors import PolicyError
from .entries import BADGE_TEXTS, DESIGN_NAMES, TOPICS
from .tier import TIERS

HERE = Path(__file__).parent
STYLESHEET = HERE / "static" / "public.css"
FILTERS = ("pem", "design", "tier", "year", "topic")
CSV_COLUMNS = ("pmid", "title", "pem_label", "badge", "design", "sample_size", "tier",
               "confidence", "preprint", "retracted", "year", "journal", "doi", "pmcid",
               "topics", "summary", "url", "approved_at", "policy_version",
               "scanner_version")
_CSV_RISKY = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Urls:
    """Where things are. ``base`` is the absolute origin for stable URLs (may be empty)."""

    home: str           # the index
    entry_prefix: str   # an entry is entry_prefix + pmid + entry_suffix
    entry_suffix: str
    static: str         # the stylesheet's folder
    base: str = ""
    dynamic: bool = False   # served: search box and contribute form work

    def entry(self, pmid: str) -> str:
        return f"{self.entry_prefix}{pmid}{self.entry_suffix}"

    def absolute(self, path: str) -> str:
        return self.base.rstrip("/") + path if self.base else path

    def page(self, name: str) -> str:
        return f"{self.home}{name}"

    def folder(self, name: str) -> str:
        """A page of its own: ``name/`` in the static site, ``name`` when served."""
        return f"{self.home}{name}" + ("" if self.dynamic else "/")

    def filter(self, name: str, value: str) -> str:
        """The index filtered by one value: a query when served, a page when static."""
        if self.dynamic:
            return f"{self.home}?{urlencode({name: value})}"
        return f"{self.home}filter/{name}/{safe_name(value)}/"


def safe_name(value: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in value.lower())


def static_urls(base: str = "", path: str = "/") -> Urls:
    """The static site, hosted at ``path`` on ``base`` (``https://host``)."""
    path = "/" + path.strip("/") + "/" if path.strip("/") else "/"
    return Urls(home=path, entry_prefix=f"{path}evidence/", entry_suffix="/",
                static=f"{path}static/", base=base.rstrip("/"))


def served_urls(base: str = "") -> Urls:
    return Urls(home="/evidence/", entry_prefix="/evidence/", entry_suffix="",
                static="/evidence/static/", base=base.rstrip("/"), dynamic=True)


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.globals.update(badge_texts=BADGE_TEXTS, design_names=DESIGN_NAMES, tiers=TIERS,
                       topic_names=tuple(TOPICS), scanner_version=__version__)
    return env


@cache
def templates_sha256() -> str:
    """Changes when a template or the stylesheet does: every page is rendered again."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted([*(HERE / "templates").glob("*.html"), STYLESHEET]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@cache
def _template(name: str) -> jinja2.Template:
    return _env().get_template(name)


def render(name: str, **context: Any) -> str:
    return _template(name).render(**context)


# -- citations -----------------------------------------------------------------------------

def bibtex(entry: Mapping[str, Any], url: str) -> str:
    """A BibTeX entry with ``note = {PubMed: PMID}`` and the stable URL."""
    authors = " and ".join(full_author(a) for a in entry["authors"] if isinstance(a, Mapping)
                           and (a.get("last_name") or a.get("collective_name")))
    first = next((a for a in entry["authors"] if isinstance(a, Mapping)
                  and a.get("last_name")), None)
    key = f"{(first or {}).get('last_name', 'pmid')}{entry.get('year') or ''}_{entry['pmid']}"
    key = "".join(ch for ch in key if ch.isalnum() or ch == "_")
    kind = "misc" if entry.get("preprint") else "article"
    fields = [("title", entry["title"]), ("author", authors),
              ("journal", entry.get("journal")), ("year", entry.get("year")),
              ("doi", entry.get("doi")), ("note", f"PubMed: {entry['pmid']}"),
              ("url", url)]
    if entry.get("pmcid"):
        fields.append(("eprint", entry["pmcid"]))
    body = ",\n".join(f"  {name} = {{{bibtex_escape(value)}}}" for name, value in fields
                      if value not in (None, ""))
    return f"@{kind}{{{key},\n{body}\n}}"


def ris(entry: Mapping[str, Any], url: str) -> str:
    record = {"pmid": entry["pmid"], "title": entry["title"], "authors": entry["authors"],
              "journal": entry.get("journal"), "pub_year": entry.get("year"),
              "doi": entry.get("doi"), "pmcid": entry.get("pmcid")}
    return ris_entry(record, abstract=entry["fields"]["summary"],
                     notes=[f"{entry['badge']}. Evidence page: {url}"]).strip()


def citation(entry: Mapping[str, Any]) -> str:
    given = entry["fields"].get("citation")
    if given:
        return str(given)
    names = [vancouver_author(a) for a in entry["authors"][:6] if isinstance(a, Mapping)
             and (a.get("last_name") or a.get("collective_name"))]
    return f"{', '.join(names)}. {entry['title']} {entry.get('journal') or ''}. " \
           f"{entry.get('year') or ''}. PMID: {entry['pmid']}."


def reference_line(entry: Mapping[str, Any], url: str, accessed: dt.date) -> str:
    """The atlas snapshot reference: generator, scanner and policy versions, access date."""
    s = entry["stamps"]
    return (f"Generator {s.get('generator') or '?'} {s.get('generator_version') or '?'} / "
            f"Scanner {s.get('scanner_version') or '?'} / "
            f"policy {s.get('policy_version') or '?'}. Accessed {accessed.isoformat()}. {url}")


# -- pages ---------------------------------------------------------------------------------

def entry_page(entry: Mapping[str, Any], urls: Urls, policy: Policy,
               accessed: dt.date, *, titles: Mapping[str, str] | None = None,
               message: str | None = None, form: Mapping[str, str] | None = None,
               csrf: str | None = None) -> str:
    url = urls.absolute(urls.entry(entry["pmid"]))
    return render("entry.html", e=entry, urls=urls, url=url, bibtex=bibtex(entry, url),
                  ris=ris(entry, url), citation=citation(entry),
                  reference=reference_line(entry, url, accessed), policy=policy,
                  titles=titles or {}, message=message, form=form or {}, csrf=csrf)


def matches(entry: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    for name, value in filters.items():
        if not value:
            continue
        if name == "pem" and entry["pem_label"] != value:
            return False
        if name == "design" and entry["design"] != value:
            return False
        if name == "tier" and entry["tier"] != value:
            return False
        if name == "year" and str(entry.get("year") or "") != value:
            return False
        if name == "topic" and value not in entry["topics"]:
            return False
    return True


def facets(entries: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[str, str, int]]]:
    """Filter name -> (value, label, count) over the entries, for the index form."""
    counts: dict[str, dict[str, int]] = {name: {} for name in FILTERS}
    for e in entries:
        for name, value in (("pem", e["pem_label"]), ("design", e["design"]),
                            ("tier", e["tier"]), ("year", str(e.get("year") or ""))):
            if value:
                counts[name][value] = counts[name].get(value, 0) + 1
        for t in e["topics"]:
            counts["topic"][t] = counts["topic"].get(t, 0) + 1
    labels = {"pem": BADGE_TEXTS, "design": DESIGN_NAMES, "tier": TIERS}
    out: dict[str, list[tuple[str, str, int]]] = {}
    for name, values in counts.items():
        keys = sorted(values, reverse=name == "year")
        out[name] = [(v, labels.get(name, {}).get(v, v), values[v]) for v in keys]
    return out


def row_html(entry: Mapping[str, Any], urls: Urls) -> Markup:
    """One entry's row in the index tables (rendered once, shared by every listing)."""
    return Markup(render("row.html", e=entry, urls=urls))  # noqa: S704 - autoescaped template


def index_page(entries: Sequence[Mapping[str, Any]], urls: Urls, policy: Policy,
               filters: Mapping[str, str] | None = None, *, question: str = "",
               answers: Sequence[Mapping[str, Any]] | None = None,
               rows: Mapping[str, Markup] | None = None,
               facet_counts: Mapping[str, list[tuple[str, str, int]]] | None = None) -> str:
    filters = {k: v for k, v in (filters or {}).items() if k in FILTERS and v}
    shown = [e for e in entries if matches(e, filters)]
    shown.sort(key=lambda e: (e.get("approved_at") or "", e["pmid"]), reverse=True)
    html = [rows[e["pmid"]] if rows is not None else row_html(e, urls) for e in shown]
    return render("index.html", rows=html, shown=len(shown), total=len(entries), urls=urls,
                  facets=facet_counts or facets(entries), filters=filters, policy=policy,
                  question=question, answers=answers)


def about_page(policy: Policy, urls: Urls) -> str:
    try:
        op = policy.relevance.point()
    except PolicyError:     # a policy without operating points still has a page
        op = None
    return render("about.html", policy=policy, urls=urls, op=op, ev=policy.evidence)


def withdrawn_page(pmid: str, urls: Urls) -> str:
    return render("withdrawn.html", pmid=pmid, urls=urls)


def redirect_page(target: str, urls: Urls) -> str:
    return render("redirect.html", target=target, urls=urls)


def atom_feed(entries: Sequence[Mapping[str, Any]], urls: Urls, limit: int = 100) -> str:
    """Newly approved and changed entries, newest first."""
    recent = sorted(entries, key=lambda e: (e.get("approved_at") or "", e["pmid"]),
                    reverse=True)[:limit]
    updated = recent[0]["approved_at"] if recent else "1970-01-01T00:00:00+00:00"
    home = urls.absolute(urls.home)
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<feed xmlns="http://www.w3.org/2005/Atom">',
             "  <title>ME/CFS evidence atlas: approved entries</title>",
             f"  <id>{xml_escape(home)}</id>",
             f'  <link rel="alternate" href="{xml_escape(home)}"/>',
             f'  <link rel="self" href="{xml_escape(urls.absolute(urls.page("feed.xml")))}"/>',
             f"  <updated>{xml_escape(str(updated))}</updated>"]
    for e in recent:
        url = urls.absolute(urls.entry(e["pmid"]))
        verb = "Approved" if (e.get("entry_version") or 0) and len(
            [a for a in e["approvals"] if a["action"] == "approved"]) <= 1 else "Changed"
        summary = f"{verb}: {e['badge']}. {e['fields']['summary']}"
        parts += ["  <entry>", f"    <title>{xml_escape(e['title'])}</title>",
                  f"    <id>{xml_escape(url)}</id>",
                  f'    <link rel="alternate" href="{xml_escape(url)}"/>',
                  f"    <updated>{xml_escape(str(e.get('approved_at') or updated))}</updated>",
                  f"    <summary>{xml_escape(summary)}</summary>",
                  f'    <category term="{xml_escape(e["pem_label"])}" '
                  f'label="{xml_escape(e["badge"])}"/>',
                  "  </entry>"]
    parts.append("</feed>")
    return "\n".join(parts) + "\n"


def sitemap(entries: Sequence[Mapping[str, Any]], urls: Urls) -> str:
    locs: list[tuple[str, str | None]] = [(urls.home, None), (urls.folder("about"), None)]
    locs += [(urls.entry(e["pmid"]), (e.get("approved_at") or "")[:10] or None)
             for e in entries]
    body = "".join(f"  <url><loc>{xml_escape(urls.absolute(loc))}</loc>"
                   + (f"<lastmod>{mod}</lastmod>" if mod else "") + "</url>\n"
                   for loc, mod in locs)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{body}</urlset>\n")


def _public(entry: Mapping[str, Any], urls: Urls) -> dict[str, Any]:
    return {"pmid": entry["pmid"], "title": entry["title"], "pem_label": entry["pem_label"],
            "badge": entry["badge"], "url": urls.absolute(urls.entry(entry["pmid"])),
            "slug": entry["slug"], "design": entry["design"],
            "sample_size": entry["sample_size"], "tier": entry["tier"],
            "confidence": entry["confidence"], "preprint": entry["preprint"],
            "retracted": entry["retracted"], "under_review": entry["under_review"],
            "notices": entry["notices"], "year": entry.get("year"),
            "journal": entry.get("journal"), "doi": entry.get("doi"),
            "pmcid": entry.get("pmcid"), "topics": entry["topics"],
            "summary": entry["fields"]["summary"],
            "relevance": entry["fields"]["relevance"],
            "limitations": entry["fields"]["limitations"],
            "evidence": [{"quote": ev["quote"], "source": ev["source"],
                          "definition": ev["definition"], "role": ev["role"]}
                         for ev in entry["evidence"]],
            "history": entry["history"], "replicated_with": entry["replicated_with"],
            "approved_at": entry.get("approved_at"), "stamps": entry["stamps"]}


def entries_json(entries: Sequence[Mapping[str, Any]], urls: Urls) -> str:
    # One entry per line (json's C encoder; an indent would use the slow Python one).
    lines = ",\n".join(json.dumps(_public(e, urls), ensure_ascii=False) for e in entries)
    return f"[\n{lines}\n]\n" if entries else "[]\n"


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_RISKY) else text


def entries_csv(entries: Sequence[Mapping[str, Any]], urls: Urls) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        p = _public(e, urls)
        row = {**p, "summary": e["fields"]["summary"],
               "policy_version": e["stamps"].get("policy_version"),
               "scanner_version": e["stamps"].get("scanner_version")}
        writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
    return buf.getvalue()


def entry_titles(entries: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {e["pmid"]: e["title"] for e in entries}
