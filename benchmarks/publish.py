"""Benchmark: `scanner publish` of 10,000 entries, and the rebuild after one approval.

The entries come from the real pipeline: the demo records are scanned, classified and
drafted into a SQLite store, every relevant draft is approved and the public entries
are read back (:func:`scanner.publish.entries.collect`); they are then replicated to N
entries with fresh PMIDs and titles. Timed, in the same run:

1. a full publish into an empty directory;
2. the baseline: writing exactly the same files' bytes plainly (``Path.write_bytes``,
   same folders), so the ratio shows what rendering and the manifest add;
3. a rebuild with nothing changed;
4. a rebuild after one more approval (one new entry) and one changed entry.

Usage::

    .venv/bin/python benchmarks/publish.py [--entries N]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from classifiers.policy import load_policy  # noqa: E402
from scanner.ops.demo import scan_demo  # noqa: E402
from scanner.publish import entries as public_entries  # noqa: E402
from scanner.publish import static  # noqa: E402
from scanner.review.service import Review  # noqa: E402
from scanner.store import drafts as store  # noqa: E402
from tests.conftest import make_settings  # noqa: E402

ACCESSED = dt.date(2026, 12, 1)


def demo_entries(directory: Path) -> list[dict[str, Any]]:
    url = f"sqlite:///{directory / 'demo.sqlite'}"
    settings = make_settings(directory, "http://127.0.0.1:9/", db_url=url)
    db = scan_demo(settings, url, echo=lambda _line: None)
    policy = load_policy(REPO / "policies", "v0.1")
    review = Review(settings, db, policy)
    with db.read() as conn:
        rows, _ = store.queue(conn, store.QueueFilter(per_page=1000))
    for r in rows:
        if r.relevance_label != "not_relevant":
            review.approve(r.pmid, r.version, "bench")
    with db.read() as conn:
        out = public_entries.collect(conn, policy)
    db.dispose()
    return out


def replicate(base: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        e = copy.deepcopy(base[i % len(base)])
        pmid = str(90_000_000 + i)
        e["pmid"] = pmid
        e["title"] = f"{e['title']} (copy {i})"
        e["slug"] = public_entries.slugify(e["title"], pmid)
        e["approved_at"] = (dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
                            + dt.timedelta(minutes=i)).isoformat()
        e["replicated_with"] = []
        out.append(e)
    return out


CPU: dict[str, float] = {}


def timed(fn: Any, name: str = "") -> tuple[float, Any]:
    """Wall seconds (and CPU seconds of this process, kept in CPU[name])."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    CPU[name] = time.process_time() - cpu
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    args = parser.parse_args()
    policy = load_policy(REPO / "policies", "v0.1")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "db").mkdir()
        base = demo_entries(tmp / "db")
        entries = replicate(base, args.entries)
        site = tmp / "site"
        full, report = timed(lambda: static.publish(entries, site, policy,
                                                    accessed=ACCESSED), "full")
        files = sorted(p for p in site.rglob("*") if p.is_file())
        blobs = [(p.relative_to(site), p.read_bytes()) for p in files]
        size = sum(len(b) for _, b in blobs)
        plain_dir = tmp / "plain"

        def plain() -> None:
            for rel, data in blobs:
                path = plain_dir / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)

        base_s, _ = timed(plain, "plain")
        same, again = timed(lambda: static.publish(entries, site, policy, accessed=ACCESSED),
                            "same")
        changed = copy.deepcopy(entries)
        changed[17]["fields"]["summary"] += " A curator's edit."
        changed[17]["approved_at"] = "2026-12-01T12:00:00+00:00"
        new = copy.deepcopy(base[0])
        new.update(pmid="99999999", title="A newly approved entry",
                   slug=public_entries.slugify("A newly approved entry", "99999999"),
                   approved_at="2026-12-01T13:00:00+00:00", replicated_with=[])
        changed.append(new)
        one, after = timed(lambda: static.publish(changed, site, policy, accessed=ACCESSED),
                          "one")
        shutil.rmtree(plain_dir, ignore_errors=True)
    entry_pages = [w for w in after.written if w.startswith("evidence/")]
    print(f"entries: {args.entries} (replicated from {len(base)} approved demo entries)")
    print(f"full publish:          {full:6.2f} s (CPU {CPU['full']:.2f} s)  "
          f"{len(report.written)} files, {size / 1e6:.1f} MB")
    print(f"plain write, same bytes: {base_s:6.2f} s (CPU {CPU['plain']:.2f} s)  -> "
          f"publish/plain ratio {full / base_s:.1f}x wall, "
          f"{CPU['full'] / max(CPU['plain'], 1e-9):.1f}x CPU")
    print(f"rebuild, no change:    {same:6.2f} s (CPU {CPU['same']:.2f} s)  "
          f"written {len(again.written)}, "
          f"rendered {again.rendered} entry pages")
    print(f"rebuild, 1 approval + 1 edit: {one:6.2f} s (CPU {CPU['one']:.2f} s)  "
          f"written {len(after.written)} "
          f"files ({len(entry_pages)} under evidence/: {', '.join(entry_pages)}), "
          f"rendered {after.rendered} entry pages")


if __name__ == "__main__":
    main()
