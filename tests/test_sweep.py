"""`scanner sweep` and `scanner rerun --engine dask`: Dask workers give the labels of the
single-process path; resumable; a killed worker loses nothing.

One tiny local cluster (2 worker processes, 1 thread each) serves the whole module.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from classifiers.embedding_cache import CachedEncoder, EmbeddingStore
from classifiers.policy import Policy, load_policy
from scanner.cli import cli
from scanner.distributed.sweep import Manifest, plan_file, run_sweep
from scanner.distributed.worker import partition_papers
from scanner.errors import ScannerError
from scanner.policy.classify import classify_file
from scanner.policy.compare import SCORE_TOLERANCE
from scanner.pubmed.parse import ParsedRecord, iter_pubmed_xml
from scanner.store import runs
from scanner.store.db import open_database
from scanner.store.records import upsert_records
from tests.conftest import REPO, SHARED_DATA, make_settings, require_shared_data

DEMO_XML = REPO / "data" / "demo" / "pubmed_demo.xml"
NEAR_MISS = SHARED_DATA / "pubmed_xml" / "pubmed21n1298_mecfs_and_near_miss.xml.gz"
CONTRACT_COLUMNS = {"pmid", "relevance_label", "relevance_score", "relevance_route",
                    "pem_label", "policy_version"}
SAMPLE = 120  # real records from the near-miss file


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(REPO / "policies", "v0.1")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, memory_limit="3GiB")
    with Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def sample_gz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first SAMPLE records of the near-miss file (real ME/CFS and near-miss papers)."""
    require_shared_data()
    records = []
    for item in iter_pubmed_xml(NEAR_MISS):
        if isinstance(item, ParsedRecord):
            records.append(item.raw_xml)
            if len(records) == SAMPLE:
                break
    path = tmp_path_factory.mktemp("sample") / "near_miss_sample.xml.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b'<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>\n'
                 + b"\n".join(records) + b"\n</PubmedArticleSet>\n")
    return path


@pytest.fixture(scope="module")
def expected(policy: Policy, sample_gz: Path,
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """`scanner classify` (single process) on the demo file and the sample, by PMID."""
    out: dict[str, dict[str, Any]] = {}
    directory = tmp_path_factory.mktemp("expected")
    for i, path in enumerate((DEMO_XML, sample_gz)):
        target = directory / f"{i}.jsonl"
        classify_file(policy, path, target)
        for line in target.read_text().splitlines():
            r = json.loads(line)
            out[r["pmid"]] = r
    return out


def read_output(out_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((out_dir / "parts").glob("*/part-*.parquet")):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def assert_same(rows: list[dict[str, Any]], expected: dict[str, dict[str, Any]],
                pmids: set[str]) -> None:
    got = [r["pmid"] for r in rows]
    assert len(got) == len(set(got)), "a record written twice"
    assert set(got) == pmids
    for row in rows:
        want = expected[row["pmid"]]
        assert row["relevance_label"] == want["relevance"]["label"], row["pmid"]
        assert row["relevance_route"] == want["relevance"]["route"], row["pmid"]
        assert row["pem_label"] == want["pem"]["label"], row["pmid"]
        assert row["pem_route"] == want["pem"]["route"], row["pmid"]
        assert row["policy_version"] == want["policy"]["version"]
        assert abs(row["relevance_score"] - want["relevance"]["score"]) <= SCORE_TOLERANCE
        assert abs(row["pem_confidence"] - want["pem"]["confidence"]) <= SCORE_TOLERANCE
        full, want = json.loads(row["result_json"]), copy.deepcopy(want)
        for r in (full, want):  # everything else is identical, evidence spans included
            r["relevance"].pop("score")
            r["pem"].pop("confidence")
        assert full == want


def pmids_of(path: Path) -> list[str]:
    return [r.pmid for r in iter_pubmed_xml(path) if isinstance(r, ParsedRecord)]


# -- planning (no cluster) ----------------------------------------------------------------
def test_partitions_are_byte_ranges_of_whole_records(tmp_path: Path) -> None:
    key, parts = plan_file(DEMO_XML, 10)
    assert [p.records for p in parts] == [10, 10, 10, 3]
    assert [p.first for p in parts] == [0, 10, 20, 30]
    assert key.startswith("pubmed_demo-")
    assert [x.pmid for p in parts for x in partition_papers(p)] == pmids_of(DEMO_XML)
    # The same text gzipped plans the same partitions (offsets in the decompressed text).
    gz = tmp_path / "demo.xml.gz"
    gz.write_bytes(gzip.compress(DEMO_XML.read_bytes()))
    _, gz_parts = plan_file(gz, 10)
    assert [(p.start, p.end, p.records) for p in gz_parts] == \
        [(p.start, p.end, p.records) for p in parts]
    assert [x for p in gz_parts for x in partition_papers(p)] == \
        [x for p in parts for x in partition_papers(p)]


def test_a_changed_file_is_refused_not_misread(tmp_path: Path) -> None:
    copy = tmp_path / "demo.xml"
    copy.write_bytes(DEMO_XML.read_bytes())
    _, parts = plan_file(copy, 10)
    copy.write_bytes(DEMO_XML.read_bytes().replace(b"<PubmedArticle>", b"<PubmedArticle >", 3))
    with pytest.raises(ScannerError):
        partition_papers(parts[-1])


# -- the sweep on a cluster ---------------------------------------------------------------
@pytest.mark.slow
def test_sweep_gives_the_labels_of_classify(client: Any, policy: Policy, sample_gz: Path,
                                            expected: dict[str, dict[str, Any]],
                                            tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = run_sweep(client, [DEMO_XML, sample_gz], out, policy, partition_size=25,
                       cache_dir=tmp_path / "cache")
    rows = read_output(out)
    columns = set(pq.read_schema(next((out / "parts").rglob("*.parquet"))).names)
    assert columns >= CONTRACT_COLUMNS
    assert_same(rows, expected, set(expected))
    assert report.records == report.total_records == len(expected) == 33 + SAMPLE
    assert report.partitions_run == 2 + 5 and not report.failures
    # Each worker process built the pinned classifier once, however many partitions it ran.
    assert {w["loads"] for w in report.workers.values()} == {1}
    assert sum(w["partitions"] for w in report.workers.values()) == 7
    summary = json.loads((out / "report.json").read_text())
    assert summary["records"] == len(expected)
    assert sum(summary["counts"]["relevance_label"].values()) == len(expected)
    # The embedding cache holds what the workers encoded, keyed by the weights' sha256.
    assert policy.relevance.embedding is not None
    cached = EmbeddingStore(tmp_path / "cache", policy.relevance.embedding.sha256)
    assert len(cached) > 0


@pytest.mark.slow
def test_a_resumed_sweep_skips_finished_files_and_partitions(
        client: Any, policy: Policy, expected: dict[str, dict[str, Any]],
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_sweep(client, [DEMO_XML], out, policy, partition_size=10, cache_dir=None)
    assert first.partitions_run == 4
    parts = sorted((out / "parts").rglob("*.parquet"))
    mtimes = {p: p.stat().st_mtime_ns for p in parts}

    again = run_sweep(client, [DEMO_XML], out, policy, partition_size=10, cache_dir=None)
    assert (again.files_skipped, again.partitions_run, again.records) == (1, 0, 0)
    assert {p: p.stat().st_mtime_ns for p in parts} == mtimes

    # A sweep that stopped after two partitions (the manifest cut mid-line, one part file
    # not yet renamed into place) runs exactly the two missing ones.
    manifest = out / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    kept = [ln for ln in lines if json.loads(ln).get("partition") not in (2, 3)]
    manifest.write_text("\n".join(kept) + "\n" + '{"kind": "partition", "fi')
    parts[2].unlink()
    parts[3].unlink()
    resumed = run_sweep(client, [DEMO_XML], out, policy, partition_size=10, cache_dir=None)
    assert (resumed.files_skipped, resumed.partitions_skipped, resumed.partitions_run) == \
        (0, 2, 2)
    assert {p: p.stat().st_mtime_ns for p in parts[:2]} == {p: mtimes[p] for p in parts[:2]}
    assert_same(read_output(out), expected, set(pmids_of(DEMO_XML)))
    assert Manifest(out).finished(parts[0].parent.name)

    with pytest.raises(ScannerError, match="partitions of 10"):
        run_sweep(client, [DEMO_XML], out, policy, partition_size=5)


@pytest.mark.slow
def test_a_worker_killed_mid_partition_loses_nothing(client: Any, policy: Policy,
                                                     sample_gz: Path,
                                                     expected: dict[str, dict[str, Any]],
                                                     tmp_path: Path) -> None:
    pids: dict[str, int] = client.run(os.getpid)
    killed: list[int] = []
    stop = threading.Event()

    def kill_a_busy_worker() -> None:
        while not stop.is_set():
            busy = [w for w, keys in client.processing().items() if keys and w in pids]
            if busy:
                time.sleep(0.3)  # into the partition (parsing, classifying)
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(pids[busy[0]])
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    killer.start()
    try:
        report = run_sweep(client, [sample_gz], tmp_path / "out", policy, partition_size=20,
                           cache_dir=tmp_path / "cache")
    finally:
        stop.set()
        killer.join(5)
    assert killed, "no worker was killed"
    assert not report.failures and report.partitions_run == SAMPLE // 20
    assert_same(read_output(tmp_path / "out"), expected, set(pmids_of(sample_gz)))
    # The manifest names each partition once, and none ran on the dead process after it died.
    entries = [json.loads(ln) for ln in (tmp_path / "out" / "manifest.jsonl").read_text()
               .splitlines()]
    done = [e["partition"] for e in entries if e["kind"] == "partition"]
    assert sorted(done) == list(range(SAMPLE // 20))
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    assert killed[0] not in client.run(os.getpid).values()


# -- the CLI and the distributed rerun ----------------------------------------------------
def invoke(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args],
                              env={"SCANNER_EUTILS_URL": "http://127.0.0.1:9/",
                                   "SCANNER_DATABASE_URL": None})


@pytest.mark.slow
def test_cli_sweep_and_dask_rerun_match_the_single_process_path(
        client: Any, expected: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    make_settings(tmp_path, "http://127.0.0.1:9/", db_url=url)
    cfg = tmp_path / "config.toml"
    address = client.scheduler.address

    result = invoke(cfg, "sweep", str(DEMO_XML), "--output", str(tmp_path / "out"),
                    "--scheduler", address, "--partition-size", "12")
    assert result.exit_code == 0, result.output
    assert "sweep: 1 files" in result.output and "33 records in the output" in result.output
    assert_same(read_output(tmp_path / "out"), expected, set(pmids_of(DEMO_XML)))

    db = open_database(url)
    records = [r for r in iter_pubmed_xml(DEMO_XML) if isinstance(r, ParsedRecord)]
    with db.write() as conn:
        upsert_records(conn, records, scan_run_id=None, now=runs.utcnow())
    db.dispose()
    # Classified on the workers, stored by the client ...
    result = invoke(cfg, "rerun", "--engine", "dask", "--scheduler", address)
    assert result.exit_code == 0, result.output
    assert "33 newly classified and stored" in result.output
    # ... identical to what the single-process rerun computes, and the other way round.
    result = invoke(cfg, "rerun", "--verify")
    assert result.exit_code == 0, result.output
    assert "33 records compared, 0 differences" in result.output
    result = invoke(cfg, "rerun", "--verify", "--engine", "dask", "--scheduler", address)
    assert result.exit_code == 0, result.output
    assert "33 records compared, 0 differences" in result.output
    result = invoke(cfg, "rerun", "--workers", "2")
    assert result.exit_code != 0 and "--engine dask" in result.output


# -- the embedding cache ------------------------------------------------------------------
def test_the_embedding_store_is_shared_and_first_write_wins(tmp_path: Path) -> None:
    a = EmbeddingStore(tmp_path, "0" * 64)
    b = EmbeddingStore(tmp_path, "0" * 64)
    one, two = np.ones(4, dtype=np.float32), np.full(4, 2.0, dtype=np.float32)
    a.put({"k1": one})
    b.put({"k1": two, "k2": two})  # k1 exists: kept as first written
    got = a.get(["k1", "k2", "k3"])
    assert set(got) == {"k1", "k2"}
    assert (got["k1"] == one).all() and (got["k2"] == two).all()
    assert EmbeddingStore(tmp_path, "1" * 64).get(["k1"]) == {}  # another model, another file

    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            store = EmbeddingStore(tmp_path, "0" * 64)
            for j in range(20):
                store.put({f"t{j}": np.full(4, float(i), dtype=np.float32)})
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(a) == 22


@pytest.mark.slow
def test_a_cached_encoder_reuses_vectors_without_loading_the_model(policy: Policy,
                                                                    tmp_path: Path) -> None:
    pin = policy.relevance.embedding
    assert pin is not None
    texts = ["Post-exertional malaise in ME/CFS.", "A study of fish.",
             "Post-exertional malaise in ME/CFS."]
    first = CachedEncoder(pin.package, pin.sha256, EmbeddingStore(tmp_path, pin.sha256))
    vectors = first.encode(texts)
    assert first.misses == 2
    second = CachedEncoder(pin.package, pin.sha256, EmbeddingStore(tmp_path, pin.sha256))
    assert (second.encode(texts) == vectors).all()
    assert (second.hits, second.misses, second._model) == (2, 0, None)
