"""Full-text escalation on the labelled shared full texts (data/labels/fulltext_dev.csv).

A thin wrapper over ``scanner evaluate --fulltext`` (``classifiers/fulltext_eval.py``; each
text read through the policy's whole pipeline as a title-only record):
per split (``dev``: tuned on; ``heldout``: only evaluated), accuracy, per-label precision
and recall, ``required`` precision, the ``not_applicable`` rate of papers without
participants of their own, and every error with the reader's reason.
Usage: .venv/bin/python benchmarks/fulltext_eval.py [--policy v0.4] [--split heldout]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from classifiers.policy import load_policy  # noqa: E402
from scanner.training.fulltext_evaluate import fulltext_report  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default="v0.4")
    ap.add_argument("--split", choices=["dev", "heldout"], default=None)
    ap.add_argument("--labels", default=str(REPO / "data" / "labels" / "fulltext_dev.csv"))
    args = ap.parse_args()
    print(fulltext_report(load_policy(REPO / "policies", args.policy), Path(args.labels),
                          None, args.split, False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
