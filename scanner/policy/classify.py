"""``scanner classify``: PubMed XML in, one classification per line out; no database."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from classifiers.policy import Policy

from ..errors import ScannerError
from ..logs import kv
from ..pubmed.parse import ParsedRecord, iter_pubmed_xml

log = logging.getLogger(__name__)

CHUNK = 512


@contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    tmp = path.with_name(path.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            yield fh
    except BaseException:
        tmp.unlink(missing_ok=True)     # an error leaves no .part behind
        raise
    tmp.replace(path)  # a crash leaves no half-written output under the real name


def _chunks(path: Path) -> Iterator[list[ParsedRecord]]:
    chunk: list[ParsedRecord] = []
    for item in iter_pubmed_xml(path):
        if isinstance(item, ParsedRecord):
            chunk.append(item)
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def policy_classifier(policy: Policy) -> Any:
    """The policy's classifier, or None (with a warning) if it pins no trained model."""
    if policy.relevance.artifact is None:
        log.warning(f"policy {policy.version} pins no trained relevance model: records are "
                    "stored but not classified")
        return None
    from classifiers.pipeline import PaperClassifier

    return PaperClassifier(policy)


def classify_file(policy: Policy, input_path: Path, output_path: Path | None,
                  fulltext_dir: Path | None = None) -> int:
    """Classify every record of ``input_path``; returns how many were written."""
    from classifiers.fulltext import FullTextRefused, read_fulltext, read_fulltext_document
    from classifiers.paper import Paper
    from classifiers.pipeline import PaperClassifier

    if not input_path.is_file():
        raise ScannerError(f"input not found: {input_path}")
    if fulltext_dir is not None and not fulltext_dir.is_dir():
        raise ScannerError(f"full-text directory not found: {fulltext_dir}")
    classifier = PaperClassifier(policy)
    count = 0
    with _output(output_path) as out:
        for chunk in _chunks(input_path):
            papers = [Paper.from_record(r) for r in chunk]
            fulltexts: list[Any] | None = None
            missing: dict[str, str] | None = None
            if fulltext_dir is not None:
                missing = {p.pmid: f"no full text {p.pmid}.xml or {p.pmid}.txt in the "
                           "full-text directory" for p in papers}
                reader = read_fulltext if policy.fulltext is None else read_fulltext_document
                fulltexts = []
                for p in papers:
                    try:
                        fulltexts.append(reader(fulltext_dir, p.pmid))
                    except FullTextRefused as exc:
                        log.warning(kv("fulltext_refused", pmid=p.pmid, reason=str(exc)))
                        fulltexts.append(None)
                        missing[p.pmid] = str(exc)
                if policy.fulltext is None:
                    missing = None
            for result in classifier.classify(papers, fulltexts, missing=missing):
                out.write(json.dumps(result, ensure_ascii=False) + "\n")
                count += 1
    return count
