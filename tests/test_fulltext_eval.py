"""``scanner evaluate --fulltext``: figures per split, errors by kind; a floor on the
held-out half of the labelled shared full texts (data/labels/fulltext_dev.csv)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.fulltext_eval import evaluate_fulltext, figures, load_fulltext_labels
from classifiers.policy import load_policy

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures" / "fulltext" / "reader"
LABELS = REPO / "data" / "labels" / "fulltext_dev.csv"


def run_scanner(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NCBI_"))}
    return subprocess.run([sys.executable, "-m", "scanner", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def write_labels(tmp_path: Path, rows: list[str]) -> Path:
    p = tmp_path / "labels.csv"
    p.write_text("file,expected,definitions,own_cohort,checked,note,split\n"
                 + "\n".join(rows) + "\n", encoding="utf-8")
    return p


#: titles for the fixture texts, as a record gives them (``evaluate --fulltext`` runs the
#: whole pipeline on a record with the title only, as ``classify --fulltext`` would)
TITLES = {"cohort_with_cell_work.txt": "Natural killer cell signalling in ME/CFS: a patch-clamp "
                                       "study",
          "review_no_methods.txt": "Skeletal muscle in ME/CFS: accumulated evidence",
          "postdating_definition.txt": "Cerebral perfusion in myalgic encephalomyelitis/chronic "
                                       "fatigue syndrome",
          "no_definition.txt": "Cerebral perfusion in patients with ME/CFS"}


def titled_texts(tmp_path: Path) -> Path:
    root = tmp_path / "texts"
    shutil.copytree(FIX, root)
    (root / "index.jsonl").write_text("".join(
        json.dumps({"title": t, "copied_files": [f]}) + "\n" for f, t in TITLES.items()))
    return root


@pytest.mark.parametrize("version", ["v0.2", "v0.4"])
def test_cli_reports_splits_figures_and_errors(tmp_path: Path, version: str) -> None:
    texts = titled_texts(tmp_path)
    labels = write_labels(tmp_path, [
        "cohort_with_cell_work.txt,required,ccc_2003,true,read,,dev",
        "review_no_methods.txt,not_applicable,,false,read,,dev",
        # deliberately mislabelled: must show up as an error with the reader's reason
        "postdating_definition.txt,mixed,fukuda_1994,true,read,,heldout",
        "no_definition.txt,unclear,,true,read,,heldout",
    ])
    r = run_scanner("evaluate", "--policy", version, "--fulltext", str(labels),
                    "--texts", str(texts))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "passage reader" in out
    dev, held = out.split("--- dev: 2 texts ---")[1].split("--- heldout: 2 texts ---")
    assert "accuracy: 2/2 (100%)" in dev and "errors: 0" in dev
    assert "no own cohort -> not_applicable: 1/1 (100%)" in dev
    assert "accuracy: 1/2 (50%)" in held
    assert "errors: 1 (mixed->not_required: 1)" in held
    assert "postdating_definition.txt" in held and "Fukuda" in held
    r = run_scanner("evaluate", "--policy", version, "--fulltext", str(labels),
                    "--texts", str(texts), "--split", "heldout", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data["splits"]) == {"heldout"}
    assert data["splits"]["heldout"]["per_label"]["unclear"]["recall"] == 1.0


def test_cli_bad_labels_one_line_error(tmp_path: Path) -> None:
    labels = write_labels(tmp_path, ["missing.txt,required,ccc_2003,true,read,,dev"])
    r = run_scanner("evaluate", "--fulltext", str(labels), "--texts", str(FIX))
    assert r.returncode != 0
    assert r.stderr.strip().startswith("scanner: error:") and "missing.txt" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    bad = write_labels(tmp_path, ["no_definition.txt,maybe,,true,read,,dev"])
    r = run_scanner("evaluate", "--fulltext", str(bad), "--texts", str(FIX))
    assert r.returncode != 0 and "unknown PEM label" in r.stderr


def test_heldout_floor_on_shared_full_texts(shared_data: Path) -> None:
    """The held-out half (split fixed once with random.Random(18); see
    data/labels/README.md), read as ``classify --fulltext`` reads it under the shipped
    default policy (a record with the title only, the whole pipeline), stays above a floor."""
    from classifiers.pipeline import policy_pem
    from scanner.training.fulltext_evaluate import pipeline_case_classifier

    root = shared_data / "mecfs_fulltext"
    pol = load_policy(REPO / "policies", "v0.4")
    cases = [c for c in load_fulltext_labels(LABELS, root) if c.split == "heldout"]
    assert len(cases) == 28
    f = figures(evaluate_fulltext(policy_pem(pol), cases, root,
                                  classify=pipeline_case_classifier(pol)))
    assert f["accuracy"] is not None and f["accuracy"] >= 0.8, f["errors"]
    named = f["definition_named"]
    assert isinstance(named, dict) and named["right"] / named["n"] >= 0.9, f["errors"]
    assert f["required_precision"] is not None and f["required_precision"] >= 0.9
    nc = f["no_cohort"]
    assert isinstance(nc, dict) and nc["not_applicable"] / nc["n"] >= 0.8, f["errors"]
