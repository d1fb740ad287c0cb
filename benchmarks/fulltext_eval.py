"""Full-text escalation on the labelled development set (data/labels/fulltext_dev.csv).

For each labelled real full text in ../shared/data/mecfs_fulltext/fulltext: the PEM label
from the paper's own abstract (the text before its first Introduction / Background
heading; the shared texts carry no separate PubMed abstract) and the label after reading
the full text with the passage reader (policy v0.1's case definitions and PEM rules plus
the full-text reader). Reports the share of papers unclear from the abstract that full
text resolves (decided: required / not_required / mixed), how often a resolved label is
right, and overall accuracy. Usage: .venv/bin/python benchmarks/fulltext_eval.py
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from classifiers.document import from_plain  # noqa: E402
from classifiers.fulltext_reader import classify_with_fulltext  # noqa: E402
from classifiers.pem import Definition, PemClassifier  # noqa: E402
from classifiers.policy import load_policy  # noqa: E402

TEXTS = REPO.parent / "shared" / "data" / "mecfs_fulltext" / "fulltext"
DECIDED = {"required", "not_required", "mixed"}


def main() -> int:
    pol = load_policy(REPO / "policies", "v0.1")
    pem = PemClassifier([Definition(d.id, d.name, d.pem, d.patterns, d.ambiguous)
                         for d in pol.case_definitions], weak_as=pol.pem.weak_as,
                        auto_confidence=pol.pem.auto_confidence)
    rows = list(csv.DictReader((REPO / "data" / "labels" / "fulltext_dev.csv").open()))
    unclear_abs = resolved = resolved_right = right = 0
    confusion: Counter[tuple[str, str]] = Counter()
    for row in rows:
        raw = (TEXTS / row["file"]).read_text(encoding="utf-8")
        doc = from_plain(raw)
        intro = [s.start for s in doc.sections if s.kind == "end"]
        abstract = raw[:min(intro)] if intro else raw[:3000]
        before = pem.classify({"abstract": abstract}, cohort=True).label
        after = classify_with_fulltext(pem, {"abstract": abstract}, doc, cohort=True).label \
            if before == "unclear" else before
        exp = row["expected"]
        confusion[(exp, after)] += 1
        right += after == exp
        if before == "unclear":
            unclear_abs += 1
            if after in DECIDED:
                resolved += 1
                resolved_right += after == exp
        print(f"{row['file'][:58]:58} abstract={before:12} fulltext={after:12} "
              f"expected={exp:12} {'ok' if after == exp else 'WRONG'}")
    n = len(rows)
    decidable = sum(1 for r in rows if r["expected"] in DECIDED)
    print(f"\npapers: {n} (expected decided: {decidable}, expected unclear: {n - decidable})")
    print(f"unclear from the abstract: {unclear_abs}/{n}")
    print(f"resolved by full text: {resolved}/{unclear_abs} "
          f"({resolved / max(unclear_abs, 1):.0%}); right when resolved: "
          f"{resolved_right}/{resolved} ({resolved_right / max(resolved, 1):.0%})")
    print(f"label right overall (after escalation): {right}/{n} ({right / n:.0%})")
    print("confusion (expected -> got): " + ", ".join(
        f"{e}->{g}: {c}" for (e, g), c in sorted(confusion.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
