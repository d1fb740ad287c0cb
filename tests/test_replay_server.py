"""The E-utilities replay server, over real HTTP with httpx, on real PubMed XML.

Every promise of ``scanner.replay`` is checked on the wire: esearch windows,
paging and the 9,999 cap, efetch by id and by history, in-band errors, each
planned fault, the request log and the server's own 429 limiter.
"""

from __future__ import annotations

import datetime as dt
import gzip
import http.client
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from scanner.replay import ESEARCH_CAP, Corpus, ReplayServer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SMALL = "pubmed_xml/pubmed21n1298_mecfs_and_near_miss.xml.gz"
BIG = "pubmed_xml/pubmed21n1298.xml.gz"
ESEARCH8 = "eutils_fixtures/biopython/Entrez/esearch8.xml"
REPO = Path(__file__).resolve().parents[1]


def data_file(relative: str) -> Path:
    """A file of the shared data set; skip (or fail under CI) when it is absent."""
    path = DATA / relative
    if not path.is_file():
        message = f"shared PubMed data not found: {path}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


# -- an independent oracle: parse the file fully and read what esearch must return --


def _oracle(path: Path) -> dict[str, dt.date | None]:
    """PMID -> create date (CRDT, the 'entrez' history date), by a plain full parse."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(gzip.decompress(path.read_bytes()), parser)
    dates: dict[str, dt.date | None] = {}
    for article in root.iter("PubmedArticle"):
        pmid = article.findtext("MedlineCitation/PMID")
        node = article.find("PubmedData/History/PubMedPubDate[@PubStatus='entrez']")
        dates[pmid] = (None if node is None else dt.date(
            int(node.findtext("Year")), int(node.findtext("Month")), int(node.findtext("Day"))))
    return dates


def _ids(xml: bytes) -> list[str]:
    return etree.fromstring(xml).xpath("/eSearchResult/IdList/Id/text()")


def _fetched_pmids(xml: bytes) -> list[str]:
    root = etree.fromstring(xml)
    return root.xpath("/PubmedArticleSet/PubmedArticle/MedlineCitation/PMID/text()")


def _error(xml: bytes) -> str:
    return etree.fromstring(xml).findtext("ERROR")


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_path() -> Path:
    return data_file(SMALL)


@pytest.fixture(scope="module")
def oracle(small_path: Path) -> dict[str, dt.date | None]:
    return _oracle(small_path)


@pytest.fixture(scope="module")
def base_corpus(small_path: Path) -> Corpus:
    return Corpus.from_files([small_path])


@pytest.fixture
def server(base_corpus: Corpus) -> Iterator[ReplayServer]:
    with ReplayServer(base_corpus.copy()) as running:
        yield running


@pytest.fixture
def client(server: ReplayServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=5.0) as http:
        yield http


def esearch(client: httpx.Client, **params: object) -> httpx.Response:
    return client.get("esearch.fcgi", params={"db": "pubmed", "term": "all[sb]", **params})


WINDOW = {"datetype": "crdt", "mindate": "2021/06/01", "maxdate": "2021/06/07"}


# -- corpus ---------------------------------------------------------------------------


def test_corpus_keeps_bytes_and_create_dates(base_corpus: Corpus, oracle: dict) -> None:
    assert len(base_corpus) == len(oracle) == 354
    for pmid, created in list(oracle.items())[:50]:
        record = base_corpus.record(pmid)
        assert record is not None and record.create_date == created
        element = etree.fromstring(record.xml)
        assert element.tag == "PubmedArticle"
        assert element.findtext("MedlineCitation/PMID") == pmid
    assert base_corpus.pmids() == sorted(oracle, key=int, reverse=True)
    low, high = dt.date(2021, 6, 1), dt.date(2021, 6, 7)
    expected = sorted((p for p, d in oracle.items() if d and low <= d <= high),
                      key=int, reverse=True)
    assert base_corpus.pmids_between(low, high) == expected


def test_corpus_loads_plain_xml_and_skips_undated(tmp_path: Path, base_corpus: Corpus) -> None:
    pmid = base_corpus.pmids()[0]
    raw = base_corpus.get(pmid)
    undated = re.sub(rb'<PubMedPubDate PubStatus="entrez">.*?</PubMedPubDate>', b"", raw,
                     flags=re.S)
    plain = tmp_path / "plain.xml"
    plain.write_bytes(b'<?xml version="1.0"?>\n<PubmedArticleSet>' + undated
                      + b"</PubmedArticleSet>\n")
    corpus = Corpus.from_files([plain])
    assert len(corpus) == 1 and corpus.record(pmid).create_date is None
    from_stream = Corpus()
    assert from_stream.load(io.BytesIO(gzip.compress(plain.read_bytes()))) == 1
    assert from_stream.get(pmid) == corpus.get(pmid)
    assert corpus.pmids_between(None, None) == [pmid]
    assert corpus.pmids_between(dt.date(1900, 1, 1), dt.date(2100, 1, 1)) == []


# -- esearch ----------------------------------------------------------------------------


def test_esearch_crdt_window_count_ids_and_history(client: httpx.Client, oracle: dict) -> None:
    low, high = dt.date(2021, 6, 1), dt.date(2021, 6, 7)
    expected = sorted((p for p, d in oracle.items() if d and low <= d <= high),
                      key=int, reverse=True)
    assert 20 < len(expected) < 354
    response = esearch(client, usehistory="y", retmax=9999, **WINDOW)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8" ?>\n'
                                       b"<!DOCTYPE eSearchResult PUBLIC")
    assert b"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd" in response.content
    root = etree.fromstring(response.content)
    assert [child.tag for child in root] == [
        "Count", "RetMax", "RetStart", "QueryKey", "WebEnv", "IdList", "TranslationSet",
        "QueryTranslation"]
    assert int(root.findtext("Count")) == len(expected)
    assert _ids(response.content) == expected
    assert root.findtext("QueryKey") == "1"
    assert re.fullmatch(r"MCID_[0-9a-f]{24}", root.findtext("WebEnv"))
    assert root.findtext("QueryTranslation").endswith("2021/06/01:2021/06/07[Date - Create]")


def test_esearch_partial_dates_and_no_window(client: httpx.Client, oracle: dict) -> None:
    june = sum(1 for d in oracle.values() if d and (d.year, d.month) == (2021, 6))
    root = etree.fromstring(esearch(client, datetype="crdt", mindate="2021/06",
                                    maxdate="2021/06").content)
    assert int(root.findtext("Count")) == june
    year = etree.fromstring(esearch(client, datetype="crdt", mindate="2021",
                                    maxdate="2021").content)
    assert int(year.findtext("Count")) == sum(1 for d in oracle.values() if d and d.year == 2021)
    everything = etree.fromstring(esearch(client, retmax=0).content)
    assert everything.findtext("Count") == "354" and everything.find("IdList/Id") is None
    assert everything.find("QueryKey") is None


def test_esearch_paging_covers_the_window_exactly(client: httpx.Client) -> None:
    full = _ids(esearch(client, retmax=9999, **WINDOW).content)
    pages: list[str] = []
    for start in range(0, len(full), 7):
        root = etree.fromstring(esearch(client, retstart=start, retmax=7, **WINDOW).content)
        assert root.findtext("RetStart") == str(start)
        assert int(root.findtext("RetMax")) == len(root.findall("IdList/Id"))
        pages.extend(root.xpath("IdList/Id/text()"))
    assert pages == full
    default = etree.fromstring(esearch(client).content)
    assert default.findtext("RetMax") == "20" and len(default.findall("IdList/Id")) == 20


def test_esearch_retstart_cap_is_the_real_in_band_error(client: httpx.Client) -> None:
    ok = esearch(client, retstart=9998)
    assert ok.status_code == 200 and etree.fromstring(ok.content).findtext("Count") == "354"
    response = esearch(client, retstart=9999)
    assert response.status_code == 200
    message = _error(response.content)
    assert message.startswith("Search Backend failed: Exception:\n'retstart' cannot be "
                              "larger than 9998. For PubMed, ESearch can only retrieve the "
                              "first 9,999 records matching the query.")


def test_esearch_serves_only_the_first_9999(tmp_path: Path) -> None:
    corpus = Corpus()
    record = b"<PubmedArticle><MedlineCitation><PMID>%d</PMID></MedlineCitation></PubmedArticle>"
    for pmid in range(1, 10_051):
        corpus.add(pmid, record % pmid, dt.date(2024, 1, 1))
    with ReplayServer(corpus) as server, httpx.Client(base_url=server.base_url) as http:
        root = etree.fromstring(esearch(http, retmax=100_000).content)
        assert root.findtext("Count") == "10050"
        assert root.findtext("RetMax") == str(ESEARCH_CAP)
        assert root.findtext("IdList/Id") == "10050"
        tail = etree.fromstring(esearch(http, retstart=9990, retmax=100).content)
        assert len(tail.findall("IdList/Id")) == 9
        assert tail.findtext("WarningList/OutputMessage") == (
            "Restrictions achieved. start and count adjusted to 9990, 9")


def test_esearch_invalid_db_and_empty_term(client: httpx.Client) -> None:
    response = client.get("esearch.fcgi", params={"db": "pubmedx", "term": "x"})
    assert response.status_code == 200
    assert _error(response.content) == "Invalid db name specified: pubmedx"
    empty = client.get("esearch.fcgi", params={"db": "pubmed"})
    assert _error(empty.content) == "Empty term and query_key - nothing todo"


def test_phrase_not_found_alone_matches_recorded_shape(
        server: ReplayServer, client: httpx.Client) -> None:
    server.unmatched_phrases = {"abcXYZ"}
    response = esearch(client, term="abcXYZ")
    ours = etree.fromstring(response.content)
    recorded = etree.fromstring(data_file(ESEARCH8).read_bytes())
    assert [c.tag for c in ours] == [c.tag for c in recorded]
    for path in ("Count", "RetMax", "RetStart", "ErrorList/PhraseNotFound",
                 "WarningList/OutputMessage"):
        assert ours.findtext(path) == recorded.findtext(path), path


def test_phrase_not_found_broadens_or_empties(server: ReplayServer,
                                              client: httpx.Client) -> None:
    server.unmatched_phrases = {"abcXYZ"}
    broadened = etree.fromstring(esearch(client, term="fatigue AND abcxyz[tiab]").content)
    assert broadened.findtext("Count") == "354"
    assert broadened.findtext("ErrorList/PhraseNotFound") == "abcXYZ"
    assert broadened.find("WarningList") is None
    server.unmatched_only = True
    forced = etree.fromstring(esearch(client, term="fatigue AND abcXYZ").content)
    assert forced.findtext("Count") == "0" and forced.find("IdList/Id") is None
    assert forced.findtext("WarningList/OutputMessage") == "No items found."
    server.unmatched_only = False
    alone = etree.fromstring(esearch(client, term="abcXYZ").content)
    assert alone.findtext("Count") == "354"
    plain = etree.fromstring(esearch(client, term="fatigue").content)
    assert plain.find("ErrorList") is None


# -- efetch ---------------------------------------------------------------------------


def test_efetch_by_id_get_and_post(server: ReplayServer, client: httpx.Client) -> None:
    wanted = server.corpus.pmids()[:3]
    response = client.get("efetch.fcgi", params={
        "db": "pubmed", "retmode": "xml", "id": ",".join([*wanted, "1"])})
    assert response.status_code == 200
    assert response.content.startswith(
        b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD '
        b'PubMedArticle, 1st January 2025//EN" '
        b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>')
    assert _fetched_pmids(response.content) == wanted  # unknown PMID 1 silently left out
    for pmid in wanted:
        assert server.corpus.get(pmid) in response.content
    many = server.corpus.pmids()[:250]
    posted = client.post("efetch.fcgi", data={"db": "pubmed", "retmode": "xml",
                                              "id": ",".join(many)})
    assert posted.status_code == 200 and _fetched_pmids(posted.content) == many
    assert server.requests_for("efetch")[-1].method == "POST"
    none = client.get("efetch.fcgi", params={"db": "pubmed", "id": "1,2"})
    assert _fetched_pmids(none.content) == [] and none.content.endswith(
        b"<PubmedArticleSet>\n</PubmedArticleSet>")


def test_efetch_by_history_returns_the_exact_records(server: ReplayServer,
                                                    client: httpx.Client) -> None:
    root = etree.fromstring(esearch(client, usehistory="y", retmax=0, **WINDOW).content)
    webenv, key, count = root.findtext("WebEnv"), root.findtext("QueryKey"), int(
        root.findtext("Count"))
    expected = server.corpus.pmids_between(dt.date(2021, 6, 1), dt.date(2021, 6, 7))
    fetched: list[str] = []
    for start in range(0, count, 10):
        page = client.post("efetch.fcgi", data={
            "db": "pubmed", "retmode": "xml", "WebEnv": webenv, "query_key": key,
            "retstart": str(start), "retmax": "10"})
        assert page.status_code == 200
        fetched.extend(_fetched_pmids(page.content))
    assert fetched == expected
    second = etree.fromstring(esearch(client, usehistory="y", WebEnv=webenv, retmax=0).content)
    assert (second.findtext("WebEnv"), second.findtext("QueryKey")) == (webenv, "2")


def test_expired_or_unknown_webenv_is_an_in_band_error(server: ReplayServer,
                                                       client: httpx.Client) -> None:
    root = etree.fromstring(esearch(client, usehistory="y", **WINDOW).content)
    params = {"db": "pubmed", "retmode": "xml", "WebEnv": root.findtext("WebEnv"),
              "query_key": "1", "retmax": "5"}
    assert len(_fetched_pmids(client.get("efetch.fcgi", params=params).content)) == 5
    server.expire_webenvs()
    expired = client.get("efetch.fcgi", params=params)
    assert expired.status_code == 200
    assert etree.fromstring(expired.content).tag == "eFetchResult"
    assert _error(expired.content).startswith(
        f"Cannot retrieve history data. query_key: 1, WebEnv: {params['WebEnv']}")
    unknown = client.get("efetch.fcgi", params={**params, "WebEnv": "MCID_nope"})
    assert "Cannot retrieve history data" in _error(unknown.content)


def test_delete_and_replace_change_what_is_served(server: ReplayServer,
                                                  client: httpx.Client) -> None:
    gone, changed = server.corpus.pmids_between(dt.date(2021, 6, 1), dt.date(2021, 6, 7))[:2]
    before = _ids(esearch(client, retmax=9999, **WINDOW).content)
    server.corpus.delete(gone)
    assert gone not in _ids(esearch(client, retmax=9999, **WINDOW).content)
    assert len(_ids(esearch(client, retmax=9999, **WINDOW).content)) == len(before) - 1
    params = {"db": "pubmed", "retmode": "xml", "id": f"{gone},{changed}"}
    assert _fetched_pmids(client.get("efetch.fcgi", params=params).content) == [changed]
    server.deleted_as_delete_citation = True
    root = etree.fromstring(client.get("efetch.fcgi", params=params).content)
    assert root.xpath("DeleteCitation/PMID/text()") == [gone]

    retracted = server.corpus.get(changed).replace(
        b"<PublicationTypeList>",
        b'<PublicationTypeList><PublicationType UI="D016441">Retracted Publication'
        b"</PublicationType>", 1)
    server.corpus.replace(changed, retracted)
    fetched = client.get("efetch.fcgi", params={"db": "pubmed", "id": changed}).content
    assert b"Retracted Publication" in fetched
    assert changed in _ids(esearch(client, retmax=9999, **WINDOW).content)  # date kept


def test_einfo_and_unknown_endpoint(client: httpx.Client) -> None:
    root = etree.fromstring(client.get("einfo.fcgi", params={"db": "pubmed"}).content)
    assert root.findtext("DbInfo/Count") == "354"
    assert client.get("elsewhere.fcgi").status_code == 404


# -- faults ----------------------------------------------------------------------------


def test_status_faults(server: ReplayServer, client: httpx.Client) -> None:
    server.faults.add("status", status=429, retry_after=2)
    limited = esearch(client)
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/json"
    assert limited.headers["retry-after"] == "2"
    assert limited.text == ('{"error":"API rate limit exceeded","api-key":"127.0.0.1",'
                            '"count":"11","limit":"3"}')
    server.faults.add("status", endpoint="efetch", status=503, times=2)
    assert esearch(client).status_code == 200  # the efetch fault does not match
    for _ in range(2):
        failed = client.get("efetch.fcgi", params={"db": "pubmed", "id": "1"})
        assert failed.status_code == 503 and failed.headers["content-type"] == "text/html"
        assert b"503 Service Unavailable" in failed.content
    assert client.get("efetch.fcgi", params={"db": "pubmed", "id": "1"}).status_code == 200
    assert [r.fault for r in server.requests] == ["status", None, "status", "status", None]


@pytest.mark.parametrize(("endpoint", "root"), [("esearch", "eSearchResult"),
                                                ("efetch", "eFetchResult")])
def test_error_200_fault(server: ReplayServer, client: httpx.Client, endpoint: str,
                         root: str) -> None:
    server.faults.add("error_200", endpoint=endpoint)
    server.faults.add("error_200", endpoint=endpoint, message="Unable to obtain query #1")
    for expected in ("Search Backend failed: Database is not supported: pubmed",
                     "Unable to obtain query #1"):
        response = client.get(f"{endpoint}.fcgi", params={"db": "pubmed", "term": "x",
                                                          "id": "1"})
        assert response.status_code == 200
        assert etree.fromstring(response.content).tag == root
        assert _error(response.content) == expected


@pytest.mark.parametrize(("kind", "content_type", "needle"), [
    ("html", "text/html", b"maintenance"),
    ("text", "text/plain", b"Unable to route request!"),
    ("json_error", "application/json", b'{"error":'),
])
def test_non_xml_200_faults(server: ReplayServer, client: httpx.Client, kind: str,
                            content_type: str, needle: bytes) -> None:
    server.faults.add(kind)
    response = esearch(client)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert needle in response.content
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(response.content)


def test_empty_fault(server: ReplayServer, client: httpx.Client) -> None:
    server.faults.add("empty")
    response = esearch(client)
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == "0"


def test_truncated_fault_is_syntactically_cut(server: ReplayServer,
                                              client: httpx.Client) -> None:
    params = {"db": "pubmed", "id": ",".join(server.corpus.pmids()[:5])}
    whole = client.get("efetch.fcgi", params=params).content
    server.faults.add("truncated", endpoint="efetch", fraction=0.6)
    response = client.get("efetch.fcgi", params=params)
    assert response.status_code == 200
    assert response.content == whole[: int(len(whole) * 0.6)]
    assert response.headers["content-length"] == str(len(response.content))
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(response.content)


@pytest.mark.parametrize("kind", ["drop", "reset"])
def test_drop_and_reset_are_transport_errors(server: ReplayServer, client: httpx.Client,
                                             kind: str) -> None:
    server.faults.add(kind, endpoint="efetch")
    with pytest.raises(httpx.TransportError):
        client.get("efetch.fcgi", params={"db": "pubmed", "id": server.corpus.pmids()[0]})
    assert esearch(client).status_code == 200  # the server thread survived
    record = server.requests_for("efetch")[0]
    assert record.fault == kind and record.status == (200 if kind == "drop" else 0)


def test_drop_sends_full_length_but_part_of_the_body(server: ReplayServer) -> None:
    server.faults.add("drop", fraction=0.25)
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    connection.request("GET", "/entrez/eutils/esearch.fcgi?db=pubmed&term=x&retmax=100")
    response = connection.getresponse()
    declared = int(response.getheader("Content-Length"))
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert len(caught.value.partial) == int(declared * 0.25)
    connection.close()


def test_hang_outlasts_the_client_read_timeout(server: ReplayServer) -> None:
    server.faults.add("hang", seconds=2)
    timeout = httpx.Timeout(5.0, read=0.5)
    with httpx.Client(base_url=server.base_url, timeout=timeout) as http:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            esearch(http)
        assert 0.4 < time.monotonic() - started < 1.5
        assert esearch(http).status_code == 200  # other connections are served meanwhile


def test_stop_aborts_a_hang_promptly(base_corpus: Corpus) -> None:
    server = ReplayServer(base_corpus).start()
    server.faults.add("hang", seconds=30)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            httpx.get(server.base_url + "esearch.fcgi?db=pubmed&term=x", timeout=10)
        except httpx.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)
    started = time.monotonic()
    server.stop()
    caller.join(5)
    assert not caller.is_alive() and time.monotonic() - started < 2
    assert errors and isinstance(errors[0], httpx.TransportError)


def test_delay_fault_and_delay_all(server: ReplayServer, client: httpx.Client) -> None:
    server.faults.add("delay", seconds=0.3)
    started = time.monotonic()
    assert esearch(client).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    assert esearch(client).status_code == 200
    assert time.monotonic() - started < 0.25
    server.delay_all = 0.2
    started = time.monotonic()
    assert esearch(client).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_missing_fault_omits_records(server: ReplayServer, client: httpx.Client) -> None:
    batch = server.corpus.pmids()[:4]
    params = {"db": "pubmed", "id": ",".join(batch)}
    server.faults.add("missing")
    assert _fetched_pmids(client.get("efetch.fcgi", params=params).content) == batch[:3]
    server.faults.add("missing", pmids=[batch[1]])
    assert _fetched_pmids(client.get("efetch.fcgi", params=params).content) == [
        batch[0], batch[2], batch[3]]
    server.faults.add("missing", count=2)
    assert esearch(client).status_code == 200  # "missing" only targets efetch
    assert _fetched_pmids(client.get("efetch.fcgi", params=params).content) == batch[:2]


def test_raw_fault_replays_a_recorded_body(server: ReplayServer, client: httpx.Client) -> None:
    recorded = data_file(ESEARCH8).read_bytes()
    server.faults.add("raw", endpoint="esearch", body=recorded)
    server.faults.add("raw", body=b"<html>gateway</html>", status=502, content_type="text/html")
    first = esearch(client)
    assert first.status_code == 200 and first.content == recorded
    assert first.headers["content-type"] == "text/xml"
    second = esearch(client)
    assert second.status_code == 502 and second.text == "<html>gateway</html>"


def test_fault_plan_validation(server: ReplayServer) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        server.faults.add("explode")
    with pytest.raises(ValueError, match="needs option"):
        server.faults.add("status")
    with pytest.raises(ValueError, match="needs option"):
        server.faults.add("raw")
    with pytest.raises(ValueError):
        server.faults.add("empty", times=0)
    planned = server.faults.add("empty", endpoint="/x/efetch.fcgi", times=3)
    assert planned.endpoint == "efetch" and len(server.faults) == 1
    server.faults.clear()
    assert len(server.faults) == 0


# -- request log, rate limit, HTTP behaviour --------------------------------------------


def test_request_log(server: ReplayServer, client: httpx.Client) -> None:
    before = time.monotonic()
    esearch(client, retmax=3)
    client.post("efetch.fcgi?db=pubmed", data={"id": "1", "retmode": "xml"})
    server.faults.add("empty")
    esearch(client)
    records = server.requests
    assert [(r.method, r.endpoint, r.status, r.fault) for r in records] == [
        ("GET", "esearch", 200, None), ("POST", "efetch", 200, None),
        ("GET", "esearch", 200, "empty")]
    assert before <= records[0].t <= records[1].t <= records[2].t <= time.monotonic()
    assert abs(records[0].wall - time.time()) < 5
    assert records[0].params == {"db": "pubmed", "term": "all[sb]", "retmax": "3"}
    assert records[1].params == {"db": "pubmed", "id": "1", "retmode": "xml"}
    assert [r.endpoint for r in server.requests_for("efetch.fcgi")] == ["efetch"]
    server.clear_requests()
    assert server.requests == []


def test_server_side_rate_limit(server: ReplayServer, client: httpx.Client) -> None:
    server.rate_limit = 3
    statuses = [esearch(client).status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]
    limited = esearch(client)
    assert limited.json() == {"error": "API rate limit exceeded", "api-key": "127.0.0.1",
                              "count": "7", "limit": "3"}
    assert server.requests[-1].fault == "rate_limit"
    time.sleep(1.05)
    assert esearch(client).status_code == 200
    server.rate_limit = None
    assert all(esearch(client).status_code == 200 for _ in range(5))


def test_keep_alive_and_parallel_clients(server: ReplayServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    for _ in range(3):  # three requests over one connection: Content-Length must be exact
        connection.request("GET", "/entrez/eutils/esearch.fcgi?db=pubmed&term=x")
        response = connection.getresponse()
        assert response.status == 200 and response.version == 11
        etree.fromstring(response.read())
    connection.close()

    pmids = server.corpus.pmids()
    results: list[list[str]] = []

    def fetch(chunk: list[str]) -> None:
        with httpx.Client(base_url=server.base_url, timeout=5) as http:
            body = http.get("efetch.fcgi", params={"db": "pubmed", "id": ",".join(chunk)})
            results.append(_fetched_pmids(body.content))

    chunks = [pmids[i:i + 40] for i in range(0, 320, 40)]
    threads = [threading.Thread(target=fetch, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(map(tuple, results)) == sorted(map(tuple, chunks))


def test_cli_serves_until_interrupted(small_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "scanner.replay", str(small_path), "--port", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert "loaded 354 records" in process.stdout.readline()
        base_url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/entrez/eutils/", base_url)
        response = httpx.get(base_url + "esearch.fcgi",
                             params={"db": "pubmed", "term": "x"}, timeout=5)
        assert etree.fromstring(response.content).findtext("Count") == "354"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_full_update_file_loads_quickly() -> None:
    path = data_file(BIG)
    corpus = Corpus()
    started = time.perf_counter()
    assert corpus.load(path) == 20_788  # PubmedArticle elements in the file
    elapsed = time.perf_counter() - started
    # Versioned citations share a PMID (30271887 v1-v4, 33728380 and 34017925 v1-v2);
    # only the highest version is kept, as efetch serves the current one.
    assert len(corpus) == 20_783
    assert b'<PMID Version="4">30271887</PMID>' in corpus.get(30271887)
    assert len(corpus.deleted_pmids) == 20  # the file's <DeleteCitation> block
    assert elapsed < 30, f"loading took {elapsed:.1f} s"
    with ReplayServer(corpus) as server, httpx.Client(base_url=server.base_url) as http:
        root = etree.fromstring(esearch(http, datetype="crdt", mindate="2021/06/01",
                                        maxdate="2021/06/08", retmax=9999).content)
        ids = root.xpath("IdList/Id/text()")
        window = corpus.pmids_between(dt.date(2021, 6, 1), dt.date(2021, 6, 8))
        assert int(root.findtext("Count")) == len(ids) == len(window) > 1000
        assert "34091377" in ids  # ME/CFS record created 2021-06-07
        assert "33353469" not in ids  # ME/CFS record created 2020-12-24
        fetched = http.get("efetch.fcgi", params={"db": "pubmed", "id": "33353469,34091377"})
        assert _fetched_pmids(fetched.content) == ["33353469", "34091377"]
