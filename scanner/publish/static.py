"""``scanner publish --output DIR``: the static site, written incrementally.

``DIR/.publish-manifest.json`` remembers, per file, the sha256 of what produced it (an
entry page: the entry's JSON and the templates) and of its bytes. A rebuild renders an
entry page only when its input changed, writes a file only when its bytes changed
(temp file, then rename), and removes the files of entries no longer public (withdrawn
entries). So publishing again after one approval rewrites that entry's page and the
files that list every entry (index, feed, sitemap, JSON, CSV, filter pages), nothing else.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from classifiers.policy import Policy

from ..errors import ScannerError
from . import site

MANIFEST = ".publish-manifest.json"


@dataclass
class PublishReport:
    entries: int = 0
    rendered: int = 0           # entry pages rendered (the others were unchanged)
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    bytes_written: int = 0

    def summary(self, out: Path) -> str:
        return (f"published {self.entries} entries -> {out}: {len(self.written)} files "
                f"written, {self.unchanged} unchanged, {len(self.removed)} removed")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry_input(entry: Mapping[str, Any], accessed: dt.date, extra: str) -> str:
    blob = json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str)
    return _sha(f"{site.templates_sha256()}\0{accessed.isoformat()}\0{extra}\0{blob}".encode())


def _load_manifest(out: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data.get("files", {}) if isinstance(data, dict) else {}


def _write(out: Path, rel: str, data: bytes) -> None:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def publish(entries: Sequence[Mapping[str, Any]], out: Path, policy: Policy, *,
            urls: site.Urls | None = None, accessed: dt.date | None = None,
            withdrawn: Sequence[str] = ()) -> PublishReport:
    """Write (or bring up to date) the static site of ``entries`` under ``out``."""
    urls = urls or site.static_urls()
    accessed = accessed or dt.datetime.now(dt.UTC).date()
    if out.exists() and not out.is_dir():
        raise ScannerError(f"--output {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    old = _load_manifest(out)
    new: dict[str, dict[str, str]] = {}
    report = PublishReport(entries=len(entries))
    titles = site.entry_titles(entries)

    def emit(rel: str, make: Callable[[], str], key: str | None = None) -> None:
        before = old.get(rel)
        if key is not None and before and before.get("in") == key and (out / rel).is_file():
            new[rel] = before
            report.unchanged += 1
            return
        data = make().encode("utf-8")
        digest = _sha(data)
        if key is not None and rel.startswith("evidence/"):
            report.rendered += 1
        new[rel] = {"in": key or "", "out": digest}
        if before and before.get("out") == digest and (out / rel).is_file():
            report.unchanged += 1
            return
        _write(out, rel, data)
        report.written.append(rel)
        report.bytes_written += len(data)

    emit("static/public.css", lambda: site.STYLESHEET.read_text(encoding="utf-8"))
    keys = []
    for e in entries:
        linked = {p: titles[p] for p in e["replicated_with"] if p in titles}
        key = _entry_input(e, accessed, json.dumps(linked, sort_keys=True) + urls.base)
        keys.append(key)
        emit(f"evidence/{e['pmid']}/index.html",
             partial(site.entry_page, e, urls, policy, accessed, titles=linked), key)
        target = urls.entry(e["pmid"])
        emit(f"evidence/{e['slug']}/index.html", partial(site.redirect_page, target, urls),
             _sha(f"{site.templates_sha256()}\0{target}".encode()))
    # The pages that list every entry change when any entry does; otherwise they are
    # not even rendered again.
    listing = _sha("\0".join([site.templates_sha256(), policy.sha256, urls.base,
                              urls.home, *withdrawn, *keys]).encode())
    cache: dict[str, Any] = {}

    def rows() -> dict[str, Any]:
        if "rows" not in cache:
            cache["rows"] = {e["pmid"]: site.row_html(e, urls) for e in entries}
        return dict(cache["rows"])

    counts = site.facets(entries)

    def filtered(name: str, value: str) -> str:
        return site.index_page(entries, urls, policy, {name: value}, rows=rows(),
                               facet_counts=counts)

    emit("index.html", lambda: site.index_page(entries, urls, policy, rows=rows(),
                                               facet_counts=counts), listing)
    for name, values in counts.items():
        for value, _label, _n in values:
            emit(f"filter/{name}/{site.safe_name(value)}/index.html",
                 partial(filtered, name, value), listing)
    emit("about/index.html", lambda: site.about_page(policy, urls), listing)
    emit("feed.xml", lambda: site.atom_feed(entries, urls), listing)
    emit("sitemap.xml", lambda: site.sitemap(entries, urls), listing)
    emit("entries.json", lambda: site.entries_json(entries, urls), listing)
    emit("entries.csv", lambda: site.entries_csv(entries, urls), listing)
    emit("withdrawn/index.html", lambda: site.render("withdrawn_list.html", pmids=withdrawn,
                                                     urls=urls), listing)
    for rel in sorted(set(old) - set(new)):
        path = out / rel
        if path.is_file():
            path.unlink()
            report.removed.append(rel)
            with contextlib.suppress(OSError):
                path.parent.rmdir()     # the entry's folder, once empty
    _write(out, MANIFEST, (json.dumps({"files": new}, sort_keys=True, indent=0)
                           + "\n").encode())
    return report

