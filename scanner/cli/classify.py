"""Models and labels: ``classify`` (offline), ``train`` and ``evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .base import Context, policy_option


@click.command()
@policy_option
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="PubMed XML (PubmedArticleSet), plain or .gz.")
@click.option("--fulltext", "fulltext_dir", type=click.Path(file_okay=False), default=None,
              help="Directory of full texts: {pmid}.xml (JATS) or {pmid}.txt.")
@click.option("--output", "output_path", type=click.Path(dir_okay=False), default=None,
              help="Write JSON lines here (default: stdout).")
@click.pass_obj
def classify(obj: Context, version: str | None, input_path: str, fulltext_dir: str | None,
             output_path: str | None) -> None:
    """Classify PubMed XML offline, one JSON object per line (no database)."""
    from ..policy.classify import classify_file

    count = classify_file(obj.policy(version), Path(input_path),
                          Path(output_path) if output_path else None,
                          Path(fulltext_dir) if fulltext_dir else None)
    if output_path:
        click.echo(f"classified {count} records -> {output_path}", err=True)


@click.command()
@policy_option
@click.option("--labels", "label_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="Labelled CSV (default: data/labels/dev.csv).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Artifact directory (default: policies/artifacts/VERSION).")
@click.option("--no-embeddings", is_flag=True, help="Train the TF-IDF model only.")
@click.option("--corrections", "use_corrections", is_flag=True,
              help="Add the curators' relevance corrections from the database (for a new "
                   "policy version: never into another version's artifact directory).")
@click.pass_obj
def train(obj: Context, version: str | None, label_files: tuple[str, ...],
          out_dir: str | None, no_embeddings: bool, use_corrections: bool) -> None:
    """Train the relevance models deterministically; print the policy pins."""
    from classifiers.embedding import Encoder
    from scanner.training.datasets import load_labelled
    from scanner.training.train import policy_snippet
    from scanner.training.train import train as run_train

    from ..resources import default_label_files

    policy = obj.policy(version)
    files = [Path(f) for f in label_files] or default_label_files(demo=False)
    examples = [ex for f in files for ex in load_labelled(f)]
    pin = policy.relevance.embedding
    uses_embeddings = "embedding_lr" in policy.relevance.components
    encoder = (None if no_embeddings or pin is None or not uses_embeddings
               else Encoder(pin.package, pin.sha256))
    target = Path(out_dir) if out_dir else policy.root / "artifacts" / policy.version
    if use_corrections:
        from ..policy.corrections import check_target_free, correction_examples, merge

        check_target_free(policy, target)
        examples, replaced, added = merge(examples, correction_examples(obj.database()))
        click.echo(f"curator corrections: {replaced} labels replaced, {added} papers added")
    result = run_train(examples, target, encoder=encoder, label_files=files)
    cv = result.manifest["cross_validated"]
    click.echo(f"trained on {len(examples)} labelled papers; cross-validated accuracy "
               f"{cv['accuracy']:.3f}; wrote {result.artifact} and manifest.json")
    artifact = result.artifact.resolve()
    root = policy.root.resolve()
    rel = artifact.relative_to(root) if artifact.is_relative_to(root) else artifact
    click.echo("\n# pins for the policy's [relevance] table:\n" + policy_snippet(result, str(rel)))


@click.command()
@policy_option
@click.option("--labels", "label_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="Labelled CSV (default: data/labels/dev.csv and data/demo/labels.csv).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--fulltext", "fulltext_labels", type=click.Path(dir_okay=False), default=None,
              help="Evaluate the full-text reader on this labels CSV "
                   "(data/labels/fulltext_dev.csv) instead.")
@click.option("--texts", "texts_dir", type=click.Path(file_okay=False), default=None,
              help="With --fulltext: the texts' root (default ../shared/data/mecfs_fulltext).")
@click.option("--split", type=click.Choice(["dev", "heldout"]), default=None,
              help="With --fulltext: only this split (default: both, reported apart).")
@click.pass_obj
def evaluate(obj: Context, version: str | None, label_files: tuple[str, ...],
             as_json: bool, fulltext_labels: str | None = None, texts_dir: str | None = None,
             split: str | None = None) -> None:
    """Per-label precision, recall, F1, confusion, routing and calibration."""
    if fulltext_labels is not None:
        from scanner.training.fulltext_evaluate import fulltext_report

        click.echo(fulltext_report(obj.policy(version), Path(fulltext_labels),
                                   Path(texts_dir) if texts_dir else None, split, as_json))
        return
    from classifiers.pipeline import PaperClassifier, training_manifest, training_pmids
    from scanner.training.datasets import load_labelled
    from scanner.training.evaluate import format_honest, honest_evaluate

    from ..resources import default_label_files

    policy = obj.policy(version)
    files = [Path(f) for f in label_files] or default_label_files(demo=True)
    classifier = PaperClassifier(policy)
    seen = training_pmids(policy)
    manifest = training_manifest(policy)
    reports = {}
    for path in files:
        examples = load_labelled(path)
        results = classifier.classify([e.paper for e in examples])
        reports[str(path)] = honest_evaluate(examples, results, seen, manifest)
    if as_json:
        click.echo(json.dumps(reports, indent=2))
        return
    for name, report in reports.items():
        click.echo(f"=== {name} (policy {policy.version}) ===")
        click.echo(format_honest(report))
        click.echo()
