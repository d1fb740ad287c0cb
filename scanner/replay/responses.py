"""Response bodies shaped like NCBI's, as plain data (no sockets here).

Headers, DOCTYPEs and error texts are copied from recorded E-utilities answers
(``/work/shared/data/eutils_fixtures`` and public recordings quoted in
``design/pubmed.md``), so clients meet the same bytes as in production.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from xml.sax.saxutils import escape

__all__ = [
    "ESEARCH_CAP",
    "RETSTART_CAP_MESSAGE",
    "Response",
    "efetch_body",
    "error_response",
    "esearch_body",
    "html_error_page",
    "maintenance_page",
    "rate_limit_response",
]

#: PubMed's esearch serves at most the first 9,999 records of a query.
ESEARCH_CAP = 9999

#: The real NCBI text (HTTP 200 ``<ERROR>``) for ``retstart`` > 9998, newline included.
RETSTART_CAP_MESSAGE = (
    "Search Backend failed: Exception:\n'retstart' cannot be larger than 9998. For PubMed, "
    "ESearch can only retrieve the first 9,999 records matching the query. To obtain more "
    "than 9,999 PubMed records, consider using EDirect that contains additional logic to "
    "batch PubMed search results automatically so that an arbitrary number can be "
    "retrieved. For details see https://www.ncbi.nlm.nih.gov/books/NBK25499/"
)

XML_CONTENT_TYPE = "text/xml; charset=UTF-8"

_XML_DECL = '<?xml version="1.0" encoding="UTF-8" ?>\n'
# DOCTYPE lines as NCBI sends them. "eEfetchResult" is NCBI's own typo, kept verbatim.
_DOCTYPES = {
    "eSearchResult": '<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
                     '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n',
    "eFetchResult": '<!DOCTYPE eEfetchResult PUBLIC "-//NLM//DTD efetch 20131226//EN" '
                    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">\n',
    "eInfoResult": '<!DOCTYPE eInfoResult PUBLIC "-//NLM//DTD einfo 20190110//EN" '
                   '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20190110/einfo.dtd">\n',
}
_PUBMED_HEADER = (
    b'<?xml version="1.0" ?>\n'
    b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
    b"<PubmedArticleSet>\n"
)
_RESULT_ROOTS = {
    "esearch": "eSearchResult",
    "efetch": "eFetchResult",
    "einfo": "eInfoResult",
    "esummary": "eSummaryResult",
    "epost": "ePostResult",
    "elink": "eLinkResult",
}


@dataclass
class Response:
    """An HTTP answer: status, body bytes, content type and extra headers."""

    status: int
    body: bytes
    content_type: str = XML_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def xml_response(text: str, status: int = 200) -> Response:
    """A UTF-8 ``text/xml`` response."""
    return Response(status, text.encode("utf-8"))


def error_response(endpoint: str, *messages: str, status: int = 200) -> Response:
    """An in-band E-utilities error: ``<eXxxResult><ERROR>...</ERROR></eXxxResult>``.

    NCBI answers most of these with HTTP 200, which is why a client must look
    inside every body.
    """
    root = _RESULT_ROOTS.get(endpoint, "eResult")
    errors = "".join(f"\t<ERROR>{escape(message)}</ERROR>\n" for message in messages)
    text = f"{_XML_DECL}{_DOCTYPES.get(root, '')}<{root}>\n{errors}</{root}>\n"
    return xml_response(text, status)


def esearch_body(*, count: int, retstart: int, ids: Iterable[str], translation: str,
                 query_key: int | None = None, webenv: str | None = None,
                 phrases_not_found: Iterable[str] = (),
                 output_messages: Iterable[str] = ()) -> Response:
    """A successful ``eSearchResult`` in NCBI's element order and layout."""
    id_list = list(ids)
    parts = [
        _XML_DECL, _DOCTYPES["eSearchResult"],
        f"<eSearchResult><Count>{count}</Count><RetMax>{len(id_list)}</RetMax>"
        f"<RetStart>{retstart}</RetStart>",
    ]
    if query_key is not None and webenv is not None:
        parts.append(f"<QueryKey>{query_key}</QueryKey><WebEnv>{escape(webenv)}</WebEnv>")
    if id_list:
        parts.append("<IdList>\n" + "".join(f"<Id>{pmid}</Id>\n" for pmid in id_list)
                     + "</IdList>")
    else:
        parts.append("<IdList/>")
    parts.append(f"<TranslationSet/><QueryTranslation>{escape(translation)}</QueryTranslation>")
    not_found = list(phrases_not_found)
    if not_found:
        parts.append("<ErrorList>" + "".join(
            f"<PhraseNotFound>{escape(phrase)}</PhraseNotFound>" for phrase in not_found)
            + "</ErrorList>")
    messages = list(output_messages)
    if messages:
        parts.append("<WarningList>" + "".join(
            f"<OutputMessage>{escape(message)}</OutputMessage>" for message in messages)
            + "</WarningList>")
    parts.append("</eSearchResult>\n")
    return xml_response("".join(parts))


def efetch_body(records: Iterable[bytes], deleted: Iterable[str] = ()) -> Response:
    """A ``PubmedArticleSet`` holding the raw records (and a ``DeleteCitation`` block)."""
    chunks = [_PUBMED_HEADER]
    for raw in records:
        chunks.append(raw)
        chunks.append(b"\n")
    deleted_pmids = list(deleted)
    if deleted_pmids:
        chunks.append(b"<DeleteCitation>\n")
        chunks.extend(f'<PMID Version="1">{pmid}</PMID>\n'.encode() for pmid in deleted_pmids)
        chunks.append(b"</DeleteCitation>\n")
    chunks.append(b"</PubmedArticleSet>")
    return Response(200, b"".join(chunks))


def einfo_body(count: int | None, last_update: str) -> Response:
    """A minimal ``eInfoResult``: the database list, or PubMed's ``DbInfo``."""
    head = _XML_DECL + _DOCTYPES["eInfoResult"]
    if count is None:
        return xml_response(f"{head}<eInfoResult>\n<DbList>\n\t<DbName>pubmed</DbName>\n"
                            "</DbList>\n</eInfoResult>\n")
    return xml_response(
        f"{head}<eInfoResult>\n<DbInfo>\n\t<DbName>pubmed</DbName>\n"
        "\t<MenuName>PubMed</MenuName>\n\t<Description>PubMed bibliographic record"
        f"</Description>\n\t<DbBuild>Replay</DbBuild>\n\t<Count>{count}</Count>\n"
        f"\t<LastUpdate>{escape(last_update)}</LastUpdate>\n</DbInfo>\n</eInfoResult>\n")


def rate_limit_response(client: str, count: int, limit: str,
                        headers: Mapping[str, str] | None = None) -> Response:
    """NCBI's HTTP 429 answer: a one-line JSON body naming the key (or IP)."""
    body = json.dumps({"error": "API rate limit exceeded", "api-key": client,
                       "count": str(count), "limit": limit}, separators=(",", ":"))
    return Response(429, body.encode(), "application/json", dict(headers or {}))


def html_error_page(status: int) -> Response:
    """A short nginx-style HTML page for an HTTP error status."""
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    page = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n")
    return Response(status, page.encode(), "text/html")


def maintenance_page() -> Response:
    """HTTP 200 with an HTML maintenance notice instead of XML."""
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
            "<title>NCBI - Service Unavailable</title></head>\n<body>\n"
            "<h1>NCBI is temporarily unavailable</h1>\n"
            "<p>NCBI is temporarily unavailable while we perform scheduled maintenance. "
            "We apologize for the inconvenience; please try again later.</p>\n"
            "</body>\n</html>\n")
    return Response(200, page.encode(), "text/html; charset=utf-8")
