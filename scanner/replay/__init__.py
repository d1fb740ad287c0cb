"""A local NCBI E-utilities replay server with fault injection.

Used by the tests (to prove the client survives every failure PubMed is known
for) and by ``scanner demo`` (to run the whole pipeline offline)::

    corpus = Corpus.from_files(["pubmed21n1298_mecfs_and_near_miss.xml.gz"])
    with ReplayServer(corpus) as server:
        server.faults.add("status", endpoint="efetch", status=503)
        ...  # point the client at server.base_url

Faults (:meth:`FaultPlan.add`), each consumed by the next matching request:

========== ==================================================================
status     HTTP ``status``; 429 sends NCBI's JSON body, others an HTML page;
           ``retry_after`` adds a ``Retry-After`` header
error_200  HTTP 200 ``<eXxxResult><ERROR>message</ERROR></eXxxResult>``
html       HTTP 200 ``text/html`` maintenance page
text       HTTP 200 ``text/plain`` "Unable to route request!"
json_error HTTP 200 ``application/json`` ``{"error": message}``
empty      HTTP 200, ``Content-Length: 0``
truncated  HTTP 200, the real body cut at ``fraction`` (0.5), matching length
drop       full ``Content-Length``, ``fraction`` of the body, then close
reset      TCP RST, nothing sent
hang       sleep ``seconds`` (30; aborted by ``stop()``), then answer
delay      sleep ``seconds``, then answer
missing    efetch leaves out ``pmids`` (or the last ``count`` records)
raw        ``body`` with ``status`` (200) and ``content_type`` (text/xml)
========== ==================================================================
"""

from scanner.replay.corpus import Corpus, CorpusRecord, normalize_pmid
from scanner.replay.faults import FAULT_KINDS, FaultPlan, PlannedFault
from scanner.replay.history import HistoryStore
from scanner.replay.responses import ESEARCH_CAP, RETSTART_CAP_MESSAGE
from scanner.replay.server import ReplayServer
from scanner.replay.traffic import RequestRecord

__all__ = [
    "ESEARCH_CAP",
    "FAULT_KINDS",
    "RETSTART_CAP_MESSAGE",
    "Corpus",
    "CorpusRecord",
    "FaultPlan",
    "HistoryStore",
    "PlannedFault",
    "ReplayServer",
    "RequestRecord",
    "normalize_pmid",
]
