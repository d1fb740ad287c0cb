"""Evaluate the full-text case-definition reader on labelled real full texts.

Labels: a CSV (``data/labels/fulltext_dev.csv``) with ``file`` (relative to the texts'
root, ``.txt`` plain text or ``.nxml``/``.xml`` JATS), ``expected`` (PEM label),
``definitions``, ``own_cohort`` (the paper has ME/CFS participants of its own) and
``split`` (``dev``: looked at and tuned on; ``heldout``: only evaluated). Each text is read
as ``scanner classify --fulltext DIR`` reads it: the title (from the texts' ``index.jsonl``
where known) with no separate abstract, then, under a policy with ``[fulltext]``, the
passage reader for a paper whose label is one of the escalated ones; under a policy without
it, the whole text as a third source. ``scanner evaluate --fulltext`` passes the policy's
whole pipeline (relevance, design and cohort models, then the reader: exactly what
``classify --fulltext`` runs); without it (:func:`classify_case`) no model runs and
``cohort`` is left for the reader to decide (None).

Figures per split: accuracy; per PEM label precision / recall; ``required`` precision;
accuracy on texts whose methods name a definition; the ``not_applicable`` rate of papers
without participants of their own; and every error with the reader's reason.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from .document import FullText, from_jats, from_plain
from .fulltext_reader import classify_with_fulltext
from .pem import PemClassifier

__all__ = ["CaseClassifier", "FulltextCase", "FulltextOutcome", "evaluate_fulltext",
           "format_fulltext_report", "load_fulltext_labels", "read_case"]

LABELS = ("required", "not_required", "mixed", "unclear", "not_applicable")
DECIDED = frozenset({"required", "not_required", "mixed"})


class FulltextLabelError(ValueError):
    """A labels file that cannot be used (missing column, unknown label, missing text)."""


@dataclass(frozen=True, slots=True)
class FulltextCase:
    file: str
    expected: str
    definitions: str
    own_cohort: bool
    split: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class FulltextOutcome:
    case: FulltextCase
    got: str
    reason: str


def _titles(root: Path) -> dict[str, str]:
    index = root / "index.jsonl"
    out: dict[str, str] = {}
    if not index.is_file():
        return out
    for line in index.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        for f in d.get("copied_files") or []:
            out[f] = d.get("title") or ""
            stem = f.rsplit(".", 1)[0]
            for ext in (".txt", ".nxml", ".xml"):
                out.setdefault(stem + ext, d.get("title") or "")
    return out


def load_fulltext_labels(path: Path, root: Path) -> list[FulltextCase]:
    """The labelled cases; every text must exist under ``root``."""
    if not path.is_file():
        raise FulltextLabelError(f"labels not found: {path}")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    need = {"file", "expected", "own_cohort"}
    if not rows or not need <= set(rows[0]):
        raise FulltextLabelError(f"{path}: needs columns {', '.join(sorted(need))}")
    titles = _titles(root)
    cases = []
    for i, r in enumerate(rows, start=2):
        if r["expected"] not in LABELS:
            raise FulltextLabelError(f"{path}:{i}: unknown PEM label {r['expected']!r}")
        if r["own_cohort"] not in ("true", "false"):
            raise FulltextLabelError(f"{path}:{i}: own_cohort must be true or false")
        if not (root / r["file"]).is_file():
            raise FulltextLabelError(f"{path}:{i}: text not found: {root / r['file']}")
        cases.append(FulltextCase(r["file"], r["expected"], r.get("definitions") or "",
                                  r["own_cohort"] == "true", r.get("split") or "dev",
                                  titles.get(r["file"], "")))
    return cases


def read_case(root: Path, case: FulltextCase) -> FullText | None:
    data = (root / case.file).read_bytes()
    if case.file.endswith((".nxml", ".xml")):
        return from_jats(data)
    return from_plain(data.decode("utf-8", errors="replace"))


def classify_case(pem: PemClassifier, doc: FullText | None, title: str, *,
                  passage_reader: bool, escalate: Collection[str]) -> tuple[str, str]:
    """(label, reason) as ``classify --fulltext`` decides it for a paper with no abstract."""
    texts: dict[str, str] = {"title": title, "abstract": ""}
    if not passage_reader:
        whole = doc.text if doc is not None else ""
        res = pem.classify({**texts, "fulltext": whole}, cohort=None)
        return res.label, res.reason
    res = pem.classify(texts, cohort=None)
    if res.label in escalate and doc is not None and doc.text:
        res = classify_with_fulltext(pem, texts, doc, cohort=None)
    return res.label, res.reason


#: classifies one paper given only its title and its full text: (label, reason)
CaseClassifier = Callable[[str, FullText | None], tuple[str, str]]


def evaluate_fulltext(pem: PemClassifier, cases: Iterable[FulltextCase], root: Path, *,
                      passage_reader: bool = True,
                      escalate: Collection[str] = ("unclear",),
                      classify: CaseClassifier | None = None) -> list[FulltextOutcome]:
    """Each case read as ``classify --fulltext`` reads it: by ``classify`` (the policy's
    whole pipeline: relevance, design and cohort models, then the reader) where given,
    else by the PEM reader alone (:func:`classify_case`)."""
    out = []
    for c in cases:
        doc = read_case(root, c)
        label, reason = (classify(c.title, doc) if classify is not None else
                         classify_case(pem, doc, c.title, passage_reader=passage_reader,
                                       escalate=escalate))
        out.append(FulltextOutcome(c, label, reason))
    return out


def figures(outcomes: list[FulltextOutcome]) -> dict[str, object]:
    """Accuracy, per-label precision/recall and the issue's three target figures."""
    n = len(outcomes)
    right = sum(o.got == o.case.expected for o in outcomes)
    per: dict[str, dict[str, object]] = {}
    for lab in LABELS:
        tp = sum(o.got == lab and o.case.expected == lab for o in outcomes)
        pred = sum(o.got == lab for o in outcomes)
        gold = sum(o.case.expected == lab for o in outcomes)
        per[lab] = {"support": gold, "predicted": pred, "right": tp,
                    "precision": tp / pred if pred else None,
                    "recall": tp / gold if gold else None}
    named = [o for o in outcomes if o.case.definitions and o.case.own_cohort]
    nocohort = [o for o in outcomes if not o.case.own_cohort]
    return {
        "n": n, "right": right, "accuracy": right / n if n else None,
        "per_label": per,
        "definition_named": {"n": len(named),
                             "right": sum(o.got == o.case.expected for o in named)},
        "required_precision": per["required"]["precision"],
        "no_cohort": {"n": len(nocohort),
                      "not_applicable": sum(o.got == "not_applicable" for o in nocohort)},
        "confusion": {f"{e}->{g}": k for (e, g), k in sorted(Counter(
            (o.case.expected, o.got) for o in outcomes).items())},
        "errors": [{"file": o.case.file, "expected": o.case.expected, "got": o.got,
                    "reason": o.reason} for o in outcomes if o.got != o.case.expected],
    }


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} ({a / b:.0%})" if b else f"{a}/0"


def format_fulltext_report(outcomes: list[FulltextOutcome]) -> str:
    """Per split: the figures, then the errors by kind (expected -> got) with reasons."""
    lines: list[str] = []
    splits = sorted({o.case.split for o in outcomes}, key=lambda s: (s != "dev", s))
    for split in [*splits, "all"] if len(splits) > 1 else splits:
        part = [o for o in outcomes if split == "all" or o.case.split == split]
        f = figures(part)
        lines.append(f"--- {split}: {f['n']} texts ---")
        lines.append(f"accuracy: {_pct(int(f['right']), int(f['n']))}")  # type: ignore[call-overload]
        dn = f["definition_named"]
        nc = f["no_cohort"]
        assert isinstance(dn, dict) and isinstance(nc, dict)
        lines.append(f"right where the methods name a definition: {_pct(dn['right'], dn['n'])}")
        per = f["per_label"]
        assert isinstance(per, dict)
        req = per["required"]
        lines.append(f"required precision: {_pct(req['right'], req['predicted'])}")
        lines.append(f"no own cohort -> not_applicable: {_pct(nc['not_applicable'], nc['n'])}")
        lines.append(f"{'label':15} {'support':>7} {'predicted':>9} {'precision':>9} "
                     f"{'recall':>7}")
        for lab in LABELS:
            p = per[lab]
            prec = "-" if p["precision"] is None else f"{p['precision']:.2f}"
            rec = "-" if p["recall"] is None else f"{p['recall']:.2f}"
            lines.append(f"{lab:15} {p['support']:>7} {p['predicted']:>9} {prec:>9} {rec:>7}")
        if split == "all":
            lines.append("")
            continue
        errs = [o for o in part if o.got != o.case.expected]
        kinds = Counter((o.case.expected, o.got) for o in errs)
        lines.append(f"errors: {len(errs)}" + ("" if not errs else " (" + ", ".join(
            f"{e}->{g}: {k}" for (e, g), k in sorted(kinds.items())) + ")"))
        for o in sorted(errs, key=lambda o: (o.case.expected, o.got, o.case.file)):
            lines.append(f"  {o.case.expected} -> {o.got}: {o.case.file}")
            lines.append(f"      {o.reason[:300]}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
