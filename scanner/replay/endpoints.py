"""The E-utilities themselves: ``esearch``, ``efetch`` and ``einfo`` over a corpus.

Each function takes the server (for its corpus, history and settings) and the
merged request parameters, and returns a :class:`~scanner.replay.responses.Response`.
Parameter names are matched case-insensitively (``WebEnv`` = ``webenv``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from scanner.replay import responses as r
from scanner.replay.corpus import normalize_pmid

if TYPE_CHECKING:
    from scanner.replay.server import ReplayServer

__all__ = ["efetch", "einfo", "esearch", "parse_eutils_date"]

ESEARCH_DEFAULT_RETMAX = 20
EFETCH_DEFAULT_RETMAX = 20
EFETCH_MAX_RETMAX = 10_000

#: How NCBI names each ``datetype`` in a ``QueryTranslation``.
_DATE_LABELS = {
    "crdt": "Date - Create",
    "edat": "Date - Entry",
    "pdat": "Date - Publication",
    "mdat": "Date - Modification",
    "mhda": "MeSH Date",
    "cdat": "Date - Completion",
}
_DATE_RE = re.compile(r"^\s*(\d{4})(?:[/-](\d{1,2})(?:[/-](\d{1,2}))?)?\s*$")
_TERM_NOISE_RE = re.compile(r"\[[^\]]*\]|\b(?:AND|OR|NOT)\b|[()\"\s]", re.IGNORECASE)
_ID_SPLIT_RE = re.compile(r"[,\s]+")


class _BadRequestError(ValueError):
    """A parameter NCBI would reject; the message goes into an ``<ERROR>``."""


def parse_eutils_date(text: str, *, end: bool) -> dt.date:
    """Parse ``YYYY/MM/DD``, ``YYYY/MM`` or ``YYYY`` (``-`` also accepted).

    A partial date means the first day of the period, or its last day when
    ``end`` is true (``maxdate=2021/06`` is 2021-06-30). Raises ``ValueError``.
    """
    match = _DATE_RE.match(text)
    if match is None:
        raise ValueError(f"invalid date {text!r}")
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else (12 if end else 1)
    if match.group(3):
        return dt.date(year, month, int(match.group(3)))
    if not end:
        return dt.date(year, month, 1)
    first_of_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - dt.timedelta(days=1)


def _lower(params: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in params.items()}


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    text = params.get(name, "").strip()
    if not text:
        return default
    try:
        return max(0, int(text))
    except ValueError:
        return default


def _date_window(params: Mapping[str, str]) -> tuple[dt.date, dt.date] | None:
    """The ``mindate``/``maxdate`` (or ``reldate``) window, if the request has one.

    As at NCBI, ``mindate`` and ``maxdate`` only work as a pair; one alone is
    ignored.
    """
    mindate, maxdate = params.get("mindate", "").strip(), params.get("maxdate", "").strip()
    if mindate and maxdate:
        try:
            return parse_eutils_date(mindate, end=False), parse_eutils_date(maxdate, end=True)
        except ValueError as exc:
            raise _BadRequestError(f"Invalid date range: {mindate} - {maxdate}") from exc
    reldate = params.get("reldate", "").strip()
    if reldate.isdigit():
        today = dt.date.today()
        return today - dt.timedelta(days=int(reldate)), today
    return None


def _term_is_only(term: str, phrases: Sequence[str]) -> bool:
    """Whether nothing searchable is left in ``term`` once ``phrases`` are removed."""
    rest = term
    for phrase in phrases:
        rest = re.sub(re.escape(phrase), " ", rest, flags=re.IGNORECASE)
    return not _TERM_NOISE_RE.sub("", rest)


def esearch(server: ReplayServer, raw_params: Mapping[str, str]) -> r.Response:
    """Answer ``esearch.fcgi``: the corpus (in a date window) is the result set."""
    params = _lower(raw_params)
    db = params.get("db", "").strip() or "pubmed"
    if db.lower() != "pubmed":
        return r.error_response("esearch", f"Invalid db name specified: {db}")
    retstart = _int_param(params, "retstart", 0)
    retmax = min(_int_param(params, "retmax", ESEARCH_DEFAULT_RETMAX), r.ESEARCH_CAP)
    if retstart > r.ESEARCH_CAP - 1:
        return r.error_response("esearch", r.RETSTART_CAP_MESSAGE)
    try:
        window = _date_window(params)
    except _BadRequestError as exc:
        return r.error_response("esearch", str(exc))

    term = params.get("term", "").strip()
    webenv_in = params.get("webenv", "").strip() or None
    datetype = params.get("datetype", "").strip().lower() or "edat"
    if term:
        pmids = server.corpus.pmids_between(*window) if window else server.corpus.pmids()
    else:
        stored = (server.history.get(webenv_in, params.get("query_key", ""))
                  if webenv_in else None)
        if stored is None:
            return r.error_response("esearch", "Empty term and query_key - nothing todo")
        pmids = _filter_window(server, stored, window)

    not_found = sorted(phrase for phrase in server.unmatched_phrases
                       if phrase and phrase.lower() in term.lower())
    messages: list[str] = []
    if not_found:
        only = server.unmatched_only
        if only is None:
            only = _term_is_only(term, not_found)
        if only:
            pmids = []
            messages.append("No items found.")

    translation = term or f"#{params.get('query_key', '')}"
    if window:
        label = _DATE_LABELS.get(datetype, datetype.upper())
        low, high = (day.strftime("%Y/%m/%d") for day in window)
        translation = f"({translation}) AND {low}:{high}[{label}]"

    query_key: int | None = None
    webenv: str | None = None
    if params.get("usehistory", "").strip().lower() == "y":
        webenv, query_key = server.history.store(pmids, webenv_in)

    stop = min(retstart + retmax, r.ESEARCH_CAP)
    page = pmids[retstart:stop]
    if retstart + retmax > r.ESEARCH_CAP and len(pmids) > r.ESEARCH_CAP:
        messages.append(f"Restrictions achieved. start and count adjusted to "
                        f"{retstart}, {len(page)}")
    return r.esearch_body(count=len(pmids), retstart=retstart, ids=page,
                          translation=translation, query_key=query_key, webenv=webenv,
                          phrases_not_found=not_found, output_messages=messages)


def _filter_window(server: ReplayServer, pmids: Sequence[str],
                   window: tuple[dt.date, dt.date] | None) -> list[str]:
    if window is None:
        return list(pmids)
    low, high = window
    kept = []
    for pmid in pmids:
        record = server.corpus.record(pmid)
        if record and record.create_date and low <= record.create_date <= high:
            kept.append(pmid)
    return kept


def _parse_ids(text: str) -> list[str]:
    """Comma/space separated PMIDs, deduplicated in order; junk is skipped."""
    seen: dict[str, None] = {}
    for part in _ID_SPLIT_RE.split(text):
        try:
            seen.setdefault(normalize_pmid(part), None)
        except ValueError:
            continue
    return list(seen)


def _omit_missing(pmids: list[str], opts: Mapping[str, Any]) -> list[str]:
    """Apply a ``missing`` fault: drop ``opts["pmids"]``, else the last ``count``."""
    chosen = opts.get("pmids")
    if chosen is not None:
        if isinstance(chosen, str | int):
            chosen = [chosen]
        drop = {normalize_pmid(pmid) for pmid in chosen}
        return [pmid for pmid in pmids if pmid not in drop]
    count = max(0, int(opts.get("count", 1)))
    return pmids[: max(0, len(pmids) - count)]


def efetch(server: ReplayServer, raw_params: Mapping[str, str],
           missing: Mapping[str, Any] | None = None) -> r.Response:
    """Answer ``efetch.fcgi`` (PubMed XML) by ``id`` list or from the History server.

    Unknown and deleted PMIDs are silently left out, as NCBI does. ``missing``
    holds the options of a ``missing`` fault to apply to this batch.
    """
    params = _lower(raw_params)
    db = params.get("db", "").strip()
    if db.lower() == "pmc" and server.pmc_dir is not None:
        return efetch_pmc(server, params)
    if db.lower() != "pubmed":
        return r.error_response("efetch", f"Invalid db name specified: {db}")
    retmode = params.get("retmode", "xml").strip().lower() or "xml"
    if retmode != "xml":
        return r.Response(400, f"replay server: retmode={retmode} is not served; use "
                          "retmode=xml\n".encode(), "text/plain; charset=utf-8")

    id_text = params.get("id", "").strip()
    webenv = params.get("webenv", "").strip()
    query_key = params.get("query_key", "").strip()
    if id_text:
        pmids = _parse_ids(id_text)
    elif webenv and query_key:
        retstart = _int_param(params, "retstart", 0)
        retmax = min(_int_param(params, "retmax", EFETCH_DEFAULT_RETMAX), EFETCH_MAX_RETMAX)
        stored = server.history.get(webenv, query_key)
        if stored is None:
            return r.error_response(
                "efetch", f"Cannot retrieve history data. query_key: {query_key}, "
                f"WebEnv: {webenv}, retstart: {retstart}, retmax: {retmax}")
        if retstart > r.ESEARCH_CAP - 1:
            # Measured at NCBI (2026): the history walk is capped too, with HTTP 400.
            message = "Search backend cannot retrieve history data. Reason: Exception: " + (
                r.RETSTART_CAP_MESSAGE.split("\n", 1)[1])
            return r.error_response("efetch", message, status=400)
        pmids = list(stored[retstart:min(retstart + retmax, r.ESEARCH_CAP)])
    else:
        return r.error_response("efetch", "Empty id list - nothing todo")

    found: dict[str, bytes] = {}
    deleted: list[str] = []
    for pmid in pmids:
        raw = server.corpus.get(pmid)
        if raw is not None:
            found[pmid] = raw
        elif server.deleted_as_delete_citation and server.corpus.is_deleted(pmid):
            deleted.append(pmid)
    served = list(found)
    if missing is not None:
        served = _omit_missing(served, missing)
    return r.efetch_body((found[pmid] for pmid in served), deleted)


def efetch_pmc(server: ReplayServer, params: Mapping[str, str]) -> r.Response:
    """``efetch db=pmc`` from ``server.pmc_dir``: ``PMC{id}.xml`` files (JATS ``<article>``,
    or a whole ``pmc-articleset``) wrapped in a ``pmc-articleset``; unknown ids are left out."""
    assert server.pmc_dir is not None
    ids = [i.upper().removeprefix("PMC") for i in params.get("id", "").replace(",", " ").split()
           if i.upper().removeprefix("PMC").isdigit()]
    if not ids:
        return r.error_response("efetch", "Empty id list - nothing todo")
    chunks = [b'<?xml version="1.0" encoding="UTF-8"?>\n<pmc-articleset>']
    for i in ids:
        path = server.pmc_dir / f"PMC{i}.xml"
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if raw.lstrip().startswith(b"<?xml"):
            raw = raw.split(b"?>", 1)[1]
        raw = raw.replace(b"<pmc-articleset>", b"").replace(b"</pmc-articleset>", b"")
        chunks.append(raw.strip())
    chunks.append(b"</pmc-articleset>")
    return r.Response(200, b"\n".join(chunks))


def einfo(server: ReplayServer, raw_params: Mapping[str, str]) -> r.Response:
    """Answer ``einfo.fcgi``: the database list, or a minimal PubMed ``DbInfo``."""
    params = _lower(raw_params)
    db = params.get("db", "").strip()
    if not db:
        return r.einfo_body(None, "")
    if db.lower() != "pubmed":
        return r.error_response("einfo", f"Can not retrieve DbInfo for db={db}")
    return r.einfo_body(len(server.corpus), server.started_at.strftime("%Y/%m/%d %H:%M"))
