"""MLflow records of sweeps: a parent run per sweep with the labeled sets (as MLflow dataset inputs) and the
models, a nested child run per setting with its metrics on every set, and the plots (each set's BCubed F1 and the
worst set's against τ, per method; person sizes at the chosen setting) as artifacts.

Only logging lives here; `evaluation.sweep` computes what is logged.
"""

from __future__ import annotations

import io
import os
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import numpy as np
from matplotlib.figure import Figure  # figures without pyplot: no global backend state
from mlflow.data.dataset_source_registry import get_registered_sources, resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset

from evaluation import EXPERIMENT
from evaluation.embeddings import LabeledEmbeddings
from facegraph.places import default_data_dir

if TYPE_CHECKING:  # for the annotations only: `evaluation.sweep` calls into this module
    from evaluation.sweep import SweepResult

METRICS = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision", "bcubed_recall", "bcubed_f1",
           "nmi", "persons", "identities", "singleton_share", "detection_rate")


def default_tracking_uri() -> str:
    """`$MLFLOW_TRACKING_URI`, else a SQLite file in the data folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{default_data_dir() / 'mlflow.db'}"


def use_experiment(name: str = EXPERIMENT, tracking_uri: str | None = None) -> None:
    """Point MLflow at the tracking store and experiment. With a local SQLite store, the experiment's artifacts go
    in a folder beside the database (MLflow would otherwise write them under the current directory)."""
    uri = tracking_uri or default_tracking_uri()
    database = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    if database:
        database.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    if database and mlflow.get_experiment_by_name(name) is None:
        mlflow.create_experiment(name, artifact_location=(database.parent / "mlflow-artifacts").resolve().as_uri())
    mlflow.set_experiment(name)


def dataset_input(embeddings: LabeledEmbeddings) -> MetaDataset:
    """The labeled set as an MLflow dataset: its name, fingerprint (the digest) and folder."""
    uri = Path(embeddings.root or embeddings.set_name).resolve().as_uri()
    # MLflow registers its local-file source twice (for "file" and ""): name the first so it does not warn
    local = next(source for source in get_registered_sources() if source.__name__ == "LocalArtifactDatasetSource")
    return MetaDataset(resolve_dataset_source(uri, candidate_sources=[local]), name=embeddings.set_name,
                       digest=embeddings.fingerprint)


def log_sweep(sets: list[LabeledEmbeddings], result: SweepResult, *, tracking_uri: str | None = None,
              experiment: str = EXPERIMENT) -> str:
    """Log a finished sweep; returns the parent run's id."""
    use_experiment(experiment, tracking_uri)
    model_tags = {f"{m['family']}.sha256": m["sha256"] for m in sets[0].models}
    model_tags |= {f"{m['family']}.file": m["file"] for m in sets[0].models}
    combined = result.combined()
    chosen = combined[0]
    with mlflow.start_run(run_name=f"sweep {' + '.join(result.sets)}") as parent:
        mlflow.set_tags(model_tags | {"datasets": ",".join(result.sets)})
        for embeddings in sets:
            mlflow.log_input(dataset_input(embeddings), context="evaluation",
                             tags={"photos": str(len(embeddings.identities)), "faces": str(len(embeddings.face_ids)),
                                   "fingerprint": embeddings.fingerprint})
        mlflow.log_params({"datasets": ",".join(result.sets), "settings": len(combined),
                           "choice": result.rule})
        for row in combined:
            with mlflow.start_run(run_name=row["name"], nested=True):
                mlflow.set_tags(model_tags)
                mlflow.log_params(row["settings"].parameters())
                mlflow.log_metrics(_set_metrics(row) | {"worst_bcubed_f1": row["worst_bcubed_f1"],
                                                        "mean_bcubed_f1": row["mean_bcubed_f1"]})
        mlflow.log_params({f"chosen_{key}": value for key, value in chosen["settings"].parameters().items()})
        mlflow.log_metrics({"chosen_worst_bcubed_f1": chosen["worst_bcubed_f1"],
                            "chosen_mean_bcubed_f1": chosen["mean_bcubed_f1"]}
                           | {f"chosen_{key}": value for key, value in _set_metrics(chosen).items()})
        mlflow.log_figure(curves_figure(result), "bcubed_f1_vs_tau.png")
        mlflow.log_figure(sizes_figure(sets, result), "person_sizes_at_chosen.png")
        return parent.info.run_id


def _set_metrics(row: dict) -> dict:
    """`<set>.<metric>` for every set and metric of a combined row."""
    return {f"{name}.{key}": float(per_set[key]) for name, per_set in row["per_set"].items() for key in METRICS}


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes (for notebooks and files)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def curves_figure(result: SweepResult) -> Figure:
    """BCubed F1 against τ on every set and on the worst set, one panel per method variant; the chosen setting
    marked."""
    by_variant = defaultdict(list)
    for row in result.combined():
        by_variant[row["variant"]].append(row)
    columns = min(3, len(by_variant))
    rows_needed = -(-len(by_variant) // columns)
    figure = Figure(figsize=(4.4 * columns, 3.4 * rows_needed))
    axes = figure.subplots(rows_needed, columns, sharey=True, squeeze=False)
    for axis in axes.flat[len(by_variant):]:
        axis.set_visible(False)
    chosen = result.chosen
    for axis, (variant, points) in zip(axes.flat, sorted(by_variant.items())):
        points.sort(key=lambda row: row["settings"].threshold)
        taus = [row["settings"].threshold for row in points]
        for n, name in enumerate(result.sets):
            axis.plot(taus, [row["per_set"][name]["bcubed_f1"] for row in points], f"C{n}-", lw=1, label=name)
        axis.plot(taus, [row["worst_bcubed_f1"] for row in points], "k-", lw=2.2, label="worst set")
        if variant == chosen.variant:
            axis.axvline(chosen.threshold, color="k", ls=":", lw=1)
            axis.set_title(f"{variant} (chosen: tau {chosen.threshold:.2f})")
        else:
            axis.set_title(variant)
        axis.set_xlabel("tau (cosine similarity)")
        axis.set_ylim(0.5, 1.005)
        axis.grid(alpha=0.3)
    for axis in axes[:, 0]:
        axis.set_ylabel("BCubed F1")
    axes[0][0].legend(loc="lower left", fontsize=7)
    figure.tight_layout()
    return figure


def sizes_figure(sets: list[LabeledEmbeddings], result: SweepResult) -> Figure:
    """How many persons of each size the chosen setting makes on each set, against the identities' own sizes."""
    figure = Figure(figsize=(3.6 * len(sets), 3.4))
    axes = figure.subplots(1, len(sets), squeeze=False)[0]
    for axis, embeddings in zip(axes, sets):
        faces, identities = embeddings.scored()
        labels = result.chosen_labels[embeddings.set_name]
        bins = np.logspace(0, np.log10(max(len(identities), 2)), 30)
        axis.hist(np.unique(labels[faces], return_counts=True)[1], bins=bins, alpha=0.6, label="persons")
        axis.hist(np.unique(identities, return_counts=True)[1], bins=bins, alpha=0.6, label="identities")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("labeled faces per group")
        axis.set_ylabel("groups")
        axis.set_title(embeddings.set_name)
        axis.legend(fontsize=7)
    figure.suptitle(f"person sizes at {result.chosen.name}")
    figure.tight_layout()
    return figure
