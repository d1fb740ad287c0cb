"""``scanner train-study``: a policy version's relevance, design and cohort models at once."""

from __future__ import annotations

from pathlib import Path

import click

from classifiers.components import STUDY_COHORT, STUDY_DESIGN

from .base import Context


@click.command("train-study")
@click.option("--policy", "version", default=None,
              help="Policy whose case definitions and embedding pin are used (default: active).")
@click.option("--labels", "label_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="Labelled CSV (default: data/labels/dev.csv).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Artifact directory of the NEW policy version (e.g. "
                   "policies/artifacts/v0.4); never an existing version's.")
@click.option("--no-embeddings", is_flag=True, help="Train the relevance TF-IDF model only.")
@click.option("--design", "design", default="design_lr", show_default=True,
              type=click.Choice(STUDY_DESIGN),
              help="Study-design component (classifiers/components.py).")
@click.option("--cohort", "cohort", default="cohort_lr", show_default=True,
              type=click.Choice(STUDY_COHORT),
              help="Own-ME/CFS-cohort component (classifiers/components.py).")
@click.option("--keep-relevance", is_flag=True,
              help="Keep the policy's relevance models (its pinned artifact): train only "
                   "the design and cohort models.")
@click.option("--extra", "extra_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="Labelled CSV used to train the study models only, never scored "
                   "(e.g. data/labels/train_only.csv).")
@click.pass_obj
def train_study(obj: Context, version: str | None, label_files: tuple[str, ...],
                out_dir: str, no_embeddings: bool, design: str, cohort: str,
                keep_relevance: bool, extra_files: tuple[str, ...]) -> None:
    """Train relevance, study design and own-cohort models; every figure out-of-fold."""
    from classifiers.embedding import Encoder
    from classifiers.pipeline import policy_pem
    from scanner.training.datasets import load_labelled
    from scanner.training.study_train import train_all, train_study_only

    from ..errors import PolicyError
    from ..resources import default_label_files

    policy = obj.policy(version)
    target = Path(out_dir)
    if (target / "manifest.json").exists():
        raise PolicyError(f"{target} already holds a trained version; artifacts of a used "
                          "policy are immutable: train into a new version's directory")
    files = [Path(f) for f in label_files] or default_label_files(demo=False)
    examples = [ex for f in files for ex in load_labelled(f)]
    pin = policy.relevance.embedding
    encoder = None if no_embeddings or pin is None else Encoder(pin.package, pin.sha256)
    pem = policy_pem(policy)
    if encoder is None and design == "design_lr_emb":
        raise PolicyError("design_lr_emb reads embeddings: drop --no-embeddings (and train "
                          "under a policy that pins [relevance.embedding])")
    extras = [Path(f) for f in extra_files]
    extra = [ex for f in extras for ex in load_labelled(f)]
    if keep_relevance:
        if policy.relevance.artifact is None:
            raise PolicyError(f"policy {policy.version} pins no relevance artifact to keep")
        manifest = train_study_only(
            examples, target, encoder=encoder, label_files=files, pem=pem,
            keep_relevance=policy.relevance.artifact.path, design=design, cohort=cohort,
            extra=extra, extra_files=extras)
    else:
        manifest = train_all(examples, target, encoder=encoder, label_files=files, pem=pem,
                             design=design, cohort=cohort, extra=extra)
    study = manifest["study"]
    figures = study["cross_validated"]
    click.echo(f"trained on {len(examples)} labelled papers (+{len(extra)} training-only); "
               f"{figures['method']}:")
    relevance = ("kept: " + policy.relevance.artifact.path if keep_relevance and
                 policy.relevance.artifact else
                 f"accuracy {manifest['cross_validated']['accuracy']:.3f}")
    click.echo(f"  relevance {relevance}; design "
               f"accuracy {figures['design']['combined']['accuracy']:.3f}; own ME/CFS cohort "
               f"precision {figures['own_cohort']['precision']:.3f}, recall "
               f"{figures['own_cohort']['recall']:.3f}")
    click.echo(f"\n# pins for the policy's [study] table:\ncomponents = "
               f'["{design}", "{cohort}"]\ncohort_threshold = {study["cohort_threshold"]}')
    root, where = policy.root.resolve(), target.resolve()
    prefix = where.relative_to(root) if where.is_relative_to(root) else where
    for name in ("design", "cohort"):
        click.echo(f'{name} = {{ path = "{prefix}/{study[name]["path"]}", '
                   f'sha256 = "{study[name]["sha256"]}" }}')
