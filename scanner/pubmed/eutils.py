"""The E-utilities HTTP client: esearch with the History server, efetch in batches.

Network I/O is ours (httpx), never Bio.Entrez's: a configurable base URL, connect and
read timeouts, one process-wide rate limiter, ``tool`` and ``email`` on every request,
and retries with exponential backoff and full jitter that honour ``Retry-After``.

Every request is a form POST (NCBI accepts POST for every E-utility). That keeps the
API key and long ID lists out of URLs, and so out of proxy logs, server logs and any
URL we might store or print.

A response counts as a failure to retry when it is HTTP 429 or 5xx, a connection error
or timeout, or a body that is not what was asked for: an ``<ERROR>`` inside HTTP 200, an
HTML or plain-text page, JSON, an empty body, truncated XML. A query that PubMed reports
as partly not found is a :class:`~scanner.errors.QueryError` at once, never retried and
never ingested broadened.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from lxml import etree

from .. import __version__
from ..config import EutilsSettings
from ..errors import EutilsError, QueryError
from ..logs import kv, redact, register_secret
from .parse import (
    DeletedCitations,
    ParsedRecord,
    PubmedXMLError,
    is_pmid,
    parse_pubmed_xml,
)
from .ratelimit import RateLimiter, shared_limiter

log = logging.getLogger(__name__)

T = TypeVar("T")

#: esearch pages through at most this many IDs of one query (retstart <= 9998).
ESEARCH_CAP = 9999
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                              huge_tree=True)


class BadResponse(Exception):
    """A response body that is not what was asked for (retried)."""


class WebEnvExpired(EutilsError):
    """The History server no longer knows this WebEnv; search again."""


@dataclass(frozen=True)
class EutilsRequest:
    """A request as it would be sent: endpoint URL and form fields (without the key)."""

    endpoint: str
    url: str
    form: dict[str, str]


@dataclass(frozen=True)
class SearchResult:
    count: int
    ids: tuple[str, ...]
    webenv: str | None
    query_key: str | None
    query_translation: str
    warnings: tuple[str, ...] = ()


@dataclass
class FetchResult:
    records: list[ParsedRecord] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _describe_body(body: bytes, content_type: str) -> str:
    head = body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
    if not body.strip():
        return "empty body"
    if "html" in content_type or head.lower().startswith(("<!doctype html", "<html")):
        return "an HTML page instead of XML"
    if "json" in content_type or head.startswith(("{", "[")):
        return f"JSON instead of XML: {head[:120]}"
    if not head.startswith("<"):
        return f"plain text instead of XML: {head[:120]!r}"
    return f"unexpected body: {head[:120]!r}"


def _parse_xml(body: bytes, content_type: str) -> etree._Element:
    if not body.strip() or not body.lstrip().startswith(b"<") or "html" in content_type:
        raise BadResponse(_describe_body(body, content_type))
    try:
        root = etree.fromstring(body, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise BadResponse(f"malformed or truncated XML ({exc})") from None
    if root.tag.lower() == "html":
        raise BadResponse("an HTML page instead of XML")
    return root


def _text(elem: etree._Element) -> str:
    """An element's text content with whitespace runs collapsed."""
    return " ".join("".join(str(t) for t in elem.itertext()).split())


def _error_text(root: etree._Element) -> str | None:
    err = root.find("ERROR")
    if err is not None:
        return _text(err) or "unspecified error"
    return None


class EutilsClient:
    """A thread-safe client for the E-utilities that the scanner uses."""

    def __init__(self, settings: EutilsSettings, *, limiter: RateLimiter | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self._api_key = settings.api_key.get_secret_value() if settings.api_key else None
        register_secret(self._api_key)
        host = urlsplit(settings.base_url).netloc
        self.limiter = limiter or shared_limiter(host, settings.effective_rate)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            timeout=httpx.Timeout(connect=settings.connect_timeout,
                                  read=settings.read_timeout,
                                  write=settings.read_timeout,
                                  pool=settings.read_timeout),
            headers={"User-Agent": f"{settings.tool}/{__version__} (ME/CFS literature scanner)"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EutilsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building requests -------------------------------------------------------------
    def build_request(self, endpoint: str, params: dict[str, Any]) -> EutilsRequest:
        """The exact request for ``endpoint``; the API key is added only when sending."""
        form = {k: str(v) for k, v in params.items() if v is not None}
        form["tool"] = self.settings.tool
        if self.settings.email:
            form["email"] = self.settings.email
        return EutilsRequest(endpoint, f"{self.settings.base_url}{endpoint}.fcgi", form)

    # -- sending ---------------------------------------------------------------------
    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        s = self.settings
        step = min(s.backoff_max, s.backoff_base * (2 ** (attempt - 1)))
        delay = self._rng.uniform(0, step)
        if retry_after is not None:
            delay = max(delay, min(retry_after, max(s.backoff_max, 1.0)))
        return delay

    def _call(self, request: EutilsRequest, validate: Callable[[bytes, str], T]) -> T:
        form = dict(request.form)
        if self._api_key:
            form["api_key"] = self._api_key
        attempts = self.settings.max_attempts
        last = "no attempt made"
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            self.limiter.acquire()
            try:
                response, body = self._post(request, form)
            except httpx.TimeoutException as exc:
                last = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last = f"connection error ({type(exc).__name__}: {exc})"
            else:
                status = response.status_code
                ctype = response.headers.get("content-type", "").lower()
                if status == 200:
                    try:
                        return validate(body, ctype)
                    except BadResponse as exc:
                        last = f"HTTP 200 with {exc}"
                elif status in RETRY_STATUSES:
                    retry_after = _retry_after_seconds(response.headers.get("retry-after"))
                    last = f"HTTP {status}"
                    if status == 429:
                        last += " (rate limited)"
                else:
                    raise EutilsError(redact(
                        f"{request.endpoint}: HTTP {status}: {_describe_body(body, ctype)}"),
                        endpoint=request.endpoint, attempts=attempt)
            if attempt == attempts:
                break
            delay = self._backoff(attempt, retry_after)
            log.warning(kv("eutils_retry", endpoint=request.endpoint, attempt=attempt,
                           of=attempts, reason=last, wait_s=f"{delay:.2f}"))
            self._sleep(delay)
        raise EutilsError(
            redact(f"{request.endpoint} failed after {attempts} attempts: {last}"),
            endpoint=request.endpoint, attempts=attempts)

    def _post(self, request: EutilsRequest, form: dict[str, str]) -> tuple[httpx.Response,
                                                                           bytes]:
        """POST and read the body, refusing one over ``max_response_bytes`` (a clear
        EutilsError, not retried: the same request would bring the same body)."""
        cap = self.settings.max_response_bytes
        with self._http.stream("POST", request.url, data=form) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise self._too_large(request, f"{int(declared):,} bytes announced")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > cap:
                    raise self._too_large(request, f"over {cap:,} bytes read")
                chunks.append(chunk)
        return response, b"".join(chunks)

    def _too_large(self, request: EutilsRequest, detail: str) -> EutilsError:
        return EutilsError(
            f"{request.endpoint}: response too large ({detail}; the limit is "
            f"eutils.max_response_bytes = {self.settings.max_response_bytes:,}); lower "
            "eutils.batch_size or raise the limit", endpoint=request.endpoint, attempts=1)

    # -- esearch -------------------------------------------------------------------
    def esearch(self, term: str, *, mindate: str | None = None, maxdate: str | None = None,
                datetype: str = "crdt", retmax: int = ESEARCH_CAP, retstart: int = 0,
                usehistory: bool = True) -> SearchResult:
        params: dict[str, Any] = {"db": "pubmed", "term": term, "retstart": retstart,
                                  "retmax": retmax}
        if mindate or maxdate:
            params.update(datetype=datetype, mindate=mindate, maxdate=maxdate)
        if usehistory:
            params["usehistory"] = "y"
        return self._call(self.build_request("esearch", params), _validate_esearch)

    # -- efetch --------------------------------------------------------------------
    def efetch_history(self, webenv: str, query_key: str, retstart: int,
                       retmax: int) -> FetchResult:
        params = {"db": "pubmed", "retmode": "xml", "WebEnv": webenv,
                  "query_key": query_key, "retstart": retstart, "retmax": retmax}
        return self._call(self.build_request("efetch", params), _validate_efetch)

    def efetch_ids(self, pmids: Sequence[str]) -> FetchResult:
        params = {"db": "pubmed", "retmode": "xml", "id": ",".join(pmids)}
        return self._call(self.build_request("efetch", params), _validate_efetch)

    def efetch_pmc(self, pmcid: str) -> bytes | None:
        """One PMC article's JATS (``efetch db=pmc``), through the same limiter and retries;
        None when PMC returns no article body (no open-access full text)."""
        params = {"db": "pmc", "retmode": "xml", "id": pmcid.upper().removeprefix("PMC")}
        return self._call(self.build_request("efetch", params), _validate_efetch_pmc)


def _validate_efetch_pmc(body: bytes, content_type: str) -> bytes | None:
    """A ``pmc-articleset`` body as sent, or None where it holds no article body (not open
    access, or an unknown PMCID); an in-band ``<ERROR>`` or a wrong body is retried."""
    root = _parse_xml(body, content_type)
    error = _error_text(root)
    if error is not None:
        raise BadResponse(f"NCBI error: {error}")
    if root.tag not in ("pmc-articleset", "article"):
        raise BadResponse(f"unexpected root element <{root.tag}> for efetch db=pmc")
    has_body = any(True for _ in root.iter("body"))
    return body if has_body else None


def _validate_esearch(body: bytes, content_type: str) -> SearchResult:
    root = _parse_xml(body, content_type)
    if root.tag != "eSearchResult":
        raise BadResponse(f"expected eSearchResult, got <{root.tag}>")
    error = _error_text(root)
    errors = root.find("ErrorList")
    if errors is not None and len(errors):
        problems = "; ".join(f"{e.tag}: {_text(e)}" for e in errors)
        raise QueryError(
            f"PubMed could not run the query as written ({problems}); refusing to ingest "
            "a broadened search. Fix the policy query.", endpoint="esearch")
    if error is not None:
        raise BadResponse(f"NCBI error: {error}")
    count_text = root.findtext("Count")
    if count_text is None or not count_text.strip().isdigit():
        raise BadResponse("eSearchResult without a Count")
    ids = tuple(i.text.strip() for i in root.findall("IdList/Id") if i.text)
    bad = [i for i in ids if not is_pmid(i)]
    if bad:
        log.warning(kv("esearch_ids_skipped", count=len(bad), first=bad[0][:40],
                       reason="not a PMID (1-9 digits)"))
        ids = tuple(i for i in ids if is_pmid(i))
    warning_list = root.findall("WarningList/*")
    quoted = [w for w in warning_list if w.tag == "QuotedPhraseNotFound"
              or "quoted phrase not found" in _text(w).lower()]
    if quoted:
        problems = "; ".join(f"{w.tag}: {_text(w)}" for w in quoted)
        raise QueryError(
            f"PubMed could not run the query as written ({problems}); refusing to ingest "
            "a broadened search. Fix the policy query.", endpoint="esearch")
    warnings = tuple(_text(w) for w in warning_list)
    return SearchResult(
        count=int(count_text), ids=ids, webenv=root.findtext("WebEnv"),
        query_key=root.findtext("QueryKey"),
        query_translation=root.findtext("QueryTranslation") or "",
        warnings=warnings)


def _validate_efetch(body: bytes, content_type: str) -> FetchResult:
    head = body[:400].lstrip()
    if head.startswith(b"<") and b"<eFetchResult" in head:
        root = _parse_xml(body, content_type)
        error = _error_text(root) or "eFetchResult without records"
        if "history" in error.lower() or "webenv" in error.lower():
            raise WebEnvExpired(f"efetch: {error}", endpoint="efetch")
        raise BadResponse(f"NCBI error: {error}")
    if not body.strip() or "html" in content_type or not head.startswith(b"<"):
        raise BadResponse(_describe_body(body, content_type))
    try:
        items = parse_pubmed_xml(body)
    except PubmedXMLError as exc:
        raise BadResponse(str(exc)) from None
    result = FetchResult()
    for item in items:
        if isinstance(item, DeletedCitations):
            result.deleted.extend(item.pmids)
        else:
            result.records.append(item)
    return result
