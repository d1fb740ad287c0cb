"""The E-utilities client against a real local server, with every failure NCBI produces."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from scanner.errors import EutilsError, QueryError
from scanner.pubmed.eutils import EutilsClient, WebEnvExpired
from scanner.pubmed.ratelimit import RateLimiter
from tests.conftest import make_settings
from tests.test_ratelimit import max_in_window

WINDOW = {"mindate": "2000/01/01", "maxdate": "2021/06/30"}


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(tmp_path: Path, server: Any, *, extra: str = "",
               environ: dict[str, str] | None = None, sleep: Any = None) -> EutilsClient:
    settings = make_settings(tmp_path, server.base_url, extra=extra, environ=environ)
    kwargs = {"sleep": sleep} if sleep is not None else {}
    return EutilsClient(settings.eutils, limiter=RateLimiter(settings.eutils.effective_rate),
                        **kwargs)


def test_esearch_and_efetch_by_history(tmp_path: Path, eutils_server: Any) -> None:
    with client_for(tmp_path, eutils_server) as client:
        found = client.esearch("chronic fatigue", **WINDOW)
        assert found.count == 354 and len(set(found.ids)) == 354
        assert found.webenv and found.query_key
        batch = client.efetch_history(found.webenv, found.query_key, 0, 50)
    assert [r.pmid for r in batch.records] == list(found.ids[:50])
    (search, fetch) = eutils_server.requests
    for req in (search, fetch):
        assert req.method == "POST"
        assert req.params["tool"] == "mecfs-scanner"
        assert req.params["email"] == "tests@example.org"
    assert search.params["datetype"] == "crdt" and search.params["usehistory"] == "y"
    assert fetch.params["WebEnv"] == found.webenv and fetch.params["retmax"] == "50"


def test_efetch_by_ids_posts_the_list(tmp_path: Path, eutils_server: Any) -> None:
    with client_for(tmp_path, eutils_server) as client:
        ids = client.esearch("x", **WINDOW).ids[:300]
        got = client.efetch_ids(ids)
    assert sorted(r.pmid for r in got.records) == sorted(ids)
    assert eutils_server.requests[-1].params["id"] == ",".join(ids)


def test_build_request_is_exact(tmp_path: Path, eutils_server: Any) -> None:
    client = client_for(tmp_path, eutils_server, environ={"NCBI_API_KEY": "k-123"})
    req = client.build_request("esearch", {"db": "pubmed", "term": "a b", "retmax": 5,
                                           "skip": None})
    assert req.url == eutils_server.base_url + "esearch.fcgi"
    assert req.form == {"db": "pubmed", "term": "a b", "retmax": "5",
                        "tool": "mecfs-scanner", "email": "tests@example.org"}


RETRIED = [
    ("status", {"status": 429}),
    ("status", {"status": 500}),
    ("status", {"status": 502}),
    ("status", {"status": 503}),
    ("error_200", {}),
    ("html", {}),
    ("text", {}),
    ("json_error", {}),
    ("empty", {}),
    ("truncated", {}),
    ("drop", {}),
    ("reset", {}),
    ("hang", {"seconds": 4}),
]


@pytest.mark.parametrize(("kind", "opts"), RETRIED, ids=[k + str(o) for k, o in RETRIED])
@pytest.mark.parametrize("endpoint", ["esearch", "efetch"])
def test_every_known_failure_is_retried(tmp_path: Path, eutils_server: Any, kind: str,
                                        opts: dict[str, Any], endpoint: str,
                                        caplog: pytest.LogCaptureFixture) -> None:
    sleeps = Sleeps()
    extra = "read_timeout = 0.5\n" if kind == "hang" else ""
    with client_for(tmp_path, eutils_server, sleep=sleeps, extra=extra) as client:
        found = client.esearch("x", **WINDOW)
        eutils_server.faults.add(kind, endpoint=endpoint, times=2, **opts)
        eutils_server.clear_requests()
        with caplog.at_level(logging.WARNING):
            if endpoint == "esearch":
                again = client.esearch("x", **WINDOW)
                assert again.count == found.count
            else:
                batch = client.efetch_history(found.webenv or "", found.query_key or "", 0, 20)
                assert [r.pmid for r in batch.records] == list(found.ids[:20])
    hits = eutils_server.requests_for(endpoint)
    assert [r.fault for r in hits][:2] == [kind, kind] and hits[2].fault is None
    assert len(sleeps) == 2
    assert sum("eutils_retry" in r.getMessage() for r in caplog.records) == 2


def test_retry_after_is_honoured(tmp_path: Path, eutils_server: Any) -> None:
    sleeps = Sleeps()
    with client_for(tmp_path, eutils_server, sleep=sleeps,
                    extra="backoff_max = 5.0\n") as client:
        eutils_server.faults.add("status", status=429, retry_after=3)
        client.esearch("x", **WINDOW)
    assert sleeps == [3.0]


def test_backoff_grows_and_the_last_failure_is_reported(tmp_path: Path,
                                                        eutils_server: Any) -> None:
    sleeps = Sleeps()
    with client_for(tmp_path, eutils_server, sleep=sleeps,
                    extra="backoff_base = 1.0\nbackoff_max = 100.0\nmax_attempts = 5\n") as c:
        eutils_server.faults.add("status", status=503, times=5)
        with pytest.raises(EutilsError) as info:
            c.esearch("x", **WINDOW)
    assert info.value.attempts == 5
    assert str(info.value) == "esearch failed after 5 attempts: HTTP 503"
    assert len(sleeps) == 4
    assert all(0 <= s <= 2 ** i for i, s in enumerate(sleeps))


def test_a_hang_is_cut_by_the_read_timeout(tmp_path: Path, eutils_server: Any) -> None:
    with client_for(tmp_path, eutils_server, sleep=Sleeps(),
                    extra="read_timeout = 0.3\nmax_attempts = 2\n") as client:
        eutils_server.faults.add("hang", seconds=5, times=2)
        with pytest.raises(EutilsError, match="timed out"):
            client.esearch("x", **WINDOW)


def test_a_client_error_is_not_retried(tmp_path: Path, eutils_server: Any) -> None:
    with client_for(tmp_path, eutils_server, sleep=Sleeps()) as client:
        eutils_server.faults.add("status", status=400)
        with pytest.raises(EutilsError, match="HTTP 400"):
            client.esearch("x", **WINDOW)
    assert len(eutils_server.requests) == 1


def test_phrase_not_found_is_a_query_error(tmp_path: Path, eutils_server: Any) -> None:
    eutils_server.unmatched_phrases = {"fleegle"}
    with client_for(tmp_path, eutils_server, sleep=Sleeps()) as client, \
            pytest.raises(QueryError, match="PhraseNotFound: fleegle"):
        client.esearch('"chronic fatigue syndrome"[tiab] OR fleegle[tiab]', **WINDOW)
    assert len(eutils_server.requests) == 1  # never retried


@pytest.mark.parametrize(("recorded", "expected"), [
    ("biopython/Entrez/esearch8.xml", QueryError),         # Count 0 + PhraseNotFound
    ("ncbi_eutils_json_samples/esearch.error.xml", QueryError),  # broadened, Count 5163
    ("ncbi_eutils_json_samples/esearch.baderror.xml", EutilsError),  # <ERROR> in 200
    ("biopython/Entrez/esummary8.xml", EutilsError),     # wrong document altogether
])
def test_recorded_error_bodies(tmp_path: Path, eutils_server: Any, shared_data: Path,
                               recorded: str, expected: type[Exception]) -> None:
    body = (shared_data / "eutils_fixtures" / recorded).read_bytes()
    with client_for(tmp_path, eutils_server, sleep=Sleeps()) as client:
        eutils_server.faults.add("raw", body=body, times=10)
        with pytest.raises(expected) as info:
            client.esearch("x", **WINDOW)
    if expected is QueryError:
        assert len(eutils_server.requests) == 1
    else:
        assert not isinstance(info.value, QueryError)
        assert len(eutils_server.requests) == 4


QUOTED_NOT_FOUND = (
    b'<?xml version="1.0" encoding="UTF-8" ?>\n<eSearchResult><Count>12</Count><RetMax>0</RetMax>'
    b"<RetStart>0</RetStart><IdList/><TranslationSet/><QueryTranslation>fatigue[tiab]"
    b"</QueryTranslation><WarningList><QuotedPhraseNotFound>\"myalgic encephalopahty\""
    b"</QuotedPhraseNotFound><OutputMessage>Quoted phrase not found.</OutputMessage>"
    b"</WarningList></eSearchResult>")


def test_quoted_phrase_not_found_is_a_query_error(tmp_path: Path, eutils_server: Any) -> None:
    """PubMed reports an unmatched quoted phrase in WarningList, and still runs the rest."""
    with client_for(tmp_path, eutils_server, sleep=Sleeps()) as client:
        eutils_server.faults.add("raw", body=QUOTED_NOT_FOUND)
        with pytest.raises(QueryError, match="QuotedPhraseNotFound"):
            client.esearch('"myalgic encephalopahty"[tiab] OR fatigue[tiab]', **WINDOW)
    assert len(eutils_server.requests) == 1


def test_no_items_found_is_a_valid_empty_answer(tmp_path: Path, eutils_server: Any) -> None:
    body = (b"<eSearchResult><Count>0</Count><RetMax>0</RetMax><RetStart>0</RetStart><IdList/>"
            b"<WarningList><OutputMessage>No items found.</OutputMessage></WarningList>"
            b"</eSearchResult>")
    with client_for(tmp_path, eutils_server) as client:
        eutils_server.faults.add("raw", body=body)
        found = client.esearch("x", **WINDOW)
    assert found.count == 0 and found.warnings == ("No items found.",)


def test_recorded_efetch_of_an_empty_set_is_valid(tmp_path: Path, eutils_server: Any,
                                                  shared_data: Path) -> None:
    body = (shared_data / "eutils_fixtures/metapub_pmid_xml/37909814.xml").read_bytes()
    with client_for(tmp_path, eutils_server) as client:
        eutils_server.faults.add("raw", body=body)
        assert client.efetch_ids(["37909814"]).records == []


def test_expired_webenv_is_reported_not_retried(tmp_path: Path, eutils_server: Any) -> None:
    with client_for(tmp_path, eutils_server, sleep=Sleeps()) as client:
        found = client.esearch("x", **WINDOW)
        eutils_server.expire_webenvs()
        with pytest.raises(WebEnvExpired):
            client.efetch_history(found.webenv or "", found.query_key or "", 0, 10)
    assert len(eutils_server.requests_for("efetch")) == 1


def test_api_key_is_sent_but_never_logged_or_in_errors(
        tmp_path: Path, eutils_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    key = "abcdef0123456789secret"
    with client_for(tmp_path, eutils_server, environ={"NCBI_API_KEY": key},
                    sleep=Sleeps()) as client, caplog.at_level(logging.DEBUG):
        eutils_server.faults.add("status", status=503, times=4)
        with pytest.raises(EutilsError) as info:
            client.esearch("x", **WINDOW)
    assert all(r.params.get("api_key") == key for r in eutils_server.requests)
    # every request is a form POST to a bare endpoint URL: the key is never in a URL
    assert all(r.method == "POST" for r in eutils_server.requests)
    assert "?" not in client.build_request("esearch", {"term": "x"}).url
    assert key not in str(info.value)
    from scanner.logs import RedactingFormatter
    formatter = RedactingFormatter()
    assert caplog.records and all(key not in formatter.format(r) for r in caplog.records)


@pytest.mark.parametrize(("environ", "rate"), [({}, 3), ({"NCBI_API_KEY": "kk"}, 10)])
def test_rate_limit_holds_at_the_server_under_8_threads(
        tmp_path: Path, eutils_server: Any, environ: dict[str, str], rate: int) -> None:
    settings = make_settings(tmp_path, eutils_server.base_url, environ=environ,
                             extra=f"requests_per_second = {rate}\n")
    client = EutilsClient(settings.eutils)  # the process-wide shared limiter
    per_thread = 2 if rate == 3 else 4

    def work() -> None:
        for _ in range(per_thread):
            client.esearch("x", retmax=0, usehistory=False)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    stamps = [r.t for r in eutils_server.requests]
    assert len(stamps) == 8 * per_thread
    assert max_in_window(stamps) <= rate
    assert all(r.status == 200 for r in eutils_server.requests)


def test_truncated_xml_really_is_truncated(eutils_server: Any) -> None:
    """The fault itself: what the client rejected is not parseable XML."""
    import httpx
    eutils_server.faults.add("truncated", fraction=0.5)
    body = httpx.post(eutils_server.base_url + "esearch.fcgi",
                      data={"db": "pubmed", "term": "x"}).content
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(body)
