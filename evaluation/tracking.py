"""MLflow records of sweeps: a parent run per sweep with the dataset and models, a nested child run per setting,
and the plots (precision, recall and F1 against tau per method; person sizes at the best setting) as artifacts."""

from __future__ import annotations

import io
import os
from pathlib import Path
from collections import defaultdict

import mlflow
import numpy as np
from matplotlib.figure import Figure  # figures without pyplot: no global backend state

from evaluation.embeddings import LabeledEmbeddings
from facegraph.settings import default_data_dir

METRICS = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision", "bcubed_recall", "bcubed_f1",
           "nmi", "persons", "identities", "singleton_share", "detection_rate")


def default_tracking_uri() -> str:
    """`$MLFLOW_TRACKING_URI`, else a SQLite file in the data folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{default_data_dir() / 'mlflow.db'}"


def use_experiment(name: str, tracking_uri: str | None = None) -> None:
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


def log_sweep(embeddings: LabeledEmbeddings, rows: list[dict], *, tracking_uri: str | None = None,
              experiment: str = "facegraph-sweeps") -> str:
    """Log a finished sweep; returns the parent run's id."""
    use_experiment(experiment, tracking_uri)
    model_tags = {f"{m['family']}.sha256": m["sha256"] for m in embeddings.models}
    model_tags |= {f"{m['family']}.file": m["file"] for m in embeddings.models}
    best = max(rows, key=lambda row: row["bcubed_f1"])
    with mlflow.start_run(run_name=f"sweep {embeddings.set_name}") as parent:
        mlflow.set_tags(model_tags | {"dataset": embeddings.set_name, "dataset.fingerprint": embeddings.fingerprint})
        mlflow.log_params({"dataset": embeddings.set_name, "dataset_fingerprint": embeddings.fingerprint,
                           "photos": len(embeddings.identities), "faces": len(embeddings.face_ids),
                           "settings": len(rows)})
        for row in rows:
            with mlflow.start_run(run_name=row["name"], nested=True):
                mlflow.set_tags(model_tags | {"dataset.fingerprint": embeddings.fingerprint})
                mlflow.log_params({key: row[key] for key in ("method", "threshold", "neighbours", "min_neighbours")})
                mlflow.log_metrics({key: float(row[key]) for key in METRICS})
        mlflow.log_params({f"best_{key}": best[key] for key in ("method", "threshold", "min_neighbours")})
        mlflow.log_metrics({f"best_{key}": float(best[key]) for key in METRICS})
        mlflow.log_figure(curves_figure(rows, embeddings.set_name), "precision_recall_vs_tau.png")
        mlflow.log_figure(sizes_figure(embeddings, best), "person_sizes_at_best.png")
        return parent.info.run_id


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes (for notebooks and files)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def curves_figure(rows: list[dict], set_name: str) -> Figure:
    """Precision, recall and F1 (pairwise and BCubed) against tau, one panel per method variant."""
    by_variant = defaultdict(list)
    for row in rows:
        by_variant[row["variant"]].append(row)
    columns = min(3, len(by_variant))
    rows_needed = -(-len(by_variant) // columns)
    figure = Figure(figsize=(4.2 * columns, 3.3 * rows_needed))
    axes = figure.subplots(rows_needed, columns, sharey=True, squeeze=False)
    for axis in axes.flat[len(by_variant):]:
        axis.set_visible(False)
    for axis, (variant, points) in zip(axes.flat, sorted(by_variant.items())):
        points.sort(key=lambda row: row["threshold"])
        taus = [row["threshold"] for row in points]
        for key, style in (("bcubed_precision", "C0--"), ("bcubed_recall", "C1--"), ("bcubed_f1", "C2-"),
                           ("pairwise_f1", "C3:")):
            axis.plot(taus, [row[key] for row in points], style, label=key.replace("_", " "))
        axis.set_title(variant)
        axis.set_xlabel("tau (cosine)")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel(set_name)
    axes[0][0].legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    return figure


def sizes_figure(embeddings: LabeledEmbeddings, best: dict) -> Figure:
    """How many persons of each size the best setting makes, against the identities' own sizes."""
    from evaluation.sweep import Setting, evaluate_labels

    labels = evaluate_labels(embeddings, Setting(best["method"], best["threshold"], best["neighbours"], best["min_neighbours"]))
    faces, identities = embeddings.scored()
    figure = Figure(figsize=(5, 3.6))
    axis = figure.subplots()
    bins = np.logspace(0, np.log10(max(len(identities), 2)), 30)
    axis.hist(np.unique(labels[faces], return_counts=True)[1], bins=bins, alpha=0.6, label="persons")
    axis.hist(np.unique(identities, return_counts=True)[1], bins=bins, alpha=0.6, label="identities")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("labeled faces per group")
    axis.set_title(f"{best['name']}")
    axis.legend()
    figure.tight_layout()
    return figure
