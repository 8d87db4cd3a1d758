"""Threshold and method sweeps over a labeled set, tracked in MLflow: one parent run per sweep, one child per
setting, the plots as artifacts. The embeddings are computed once and every setting reuses them.

    python -m evaluation.sweep lfw [--detector retinaface] [--tracking-uri URI]

prints the best setting of each method and the metrics the README reports.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix

from evaluation.embeddings import LabeledEmbeddings, labeled_embeddings
from evaluation.labeled import datasets_root
from evaluation.metrics import bcubed_scores, nmi_score, pairwise_scores, singleton_share
from facegraph import clustering
from facegraph.settings import default_data_dir
from facegraph.persons import DEFAULT_METHOD, DEFAULT_THRESHOLD

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.20, 0.801, 0.05))
DENSITY_MIN_NEIGHBOURS = (2, 3, 4)


@dataclass(frozen=True)
class Setting:
    """One point of a sweep."""

    method: str
    threshold: float
    neighbours: int = clustering.DEFAULT_NEIGHBOURS
    min_neighbours: int | None = None  # density only

    @property
    def name(self) -> str:
        extra = f" m={self.min_neighbours}" if self.min_neighbours else ""
        return f"{self.method} tau={self.threshold:.2f}{extra}"

    @property
    def variant(self) -> str:
        """The method with its own parameters, without tau: what a curve against tau is drawn for."""
        return f"{self.method} m={self.min_neighbours}" if self.min_neighbours else self.method


DEFAULT_SETTING = Setting(DEFAULT_METHOD, DEFAULT_THRESHOLD)


def coarse_grid(thresholds=THRESHOLDS) -> list[Setting]:
    grid = []
    for tau in thresholds:
        grid += [Setting("components", tau), Setting("average", tau), Setting("mutual", tau)]
        grid += [Setting("density", tau, min_neighbours=m) for m in DENSITY_MIN_NEIGHBOURS]
    return grid


def finer_grid(best: dict[str, dict]) -> list[Setting]:
    """Steps of 0.01 within 0.04 of each variant's best tau."""
    grid = []
    for row in best.values():
        centre = row["threshold"]
        for tau in np.arange(centre - 0.04, centre + 0.041, 0.01):
            tau = round(float(tau), 2)
            if 0.0 < tau < 1.0 and tau not in THRESHOLDS:
                grid.append(Setting(row["method"], tau, row["neighbours"], row["min_neighbours"]))
    return grid


def at_threshold(graph: csr_matrix, threshold: float) -> csr_matrix:
    """The neighbour graph at a higher threshold: the same k best edges, minus those below it."""
    kept = graph.copy()
    kept.data[kept.data < threshold] = 0
    kept.eliminate_zeros()
    return kept


def score(embeddings: LabeledEmbeddings, labels: np.ndarray) -> dict:
    """Every metric of DESIGN.md for one clustering of all the set's faces, scored on the labeled faces."""
    faces, identities = embeddings.scored()
    predicted = labels[faces]
    pairwise = pairwise_scores(identities, predicted)
    bcubed = bcubed_scores(identities, predicted)
    return {
        "pairwise_precision": pairwise[0], "pairwise_recall": pairwise[1], "pairwise_f1": pairwise[2],
        "bcubed_precision": bcubed[0], "bcubed_recall": bcubed[1], "bcubed_f1": bcubed[2],
        "nmi": nmi_score(identities, predicted),
        "persons": int(len(np.unique(predicted))), "identities": int(len(np.unique(identities))),
        "singleton_share": singleton_share(predicted), "detection_rate": embeddings.detection_rate,
    }


def evaluate(embeddings: LabeledEmbeddings, settings: list[Setting], base_graph: csr_matrix | None = None) -> list[dict]:
    """Score each setting; the neighbour graph is built once at the lowest threshold and cut for the others."""
    if base_graph is None:
        base_graph = clustering.neighbour_graph(embeddings.vectors, threshold=min(s.threshold for s in settings),
                                                k=clustering.DEFAULT_NEIGHBOURS)
    rows = []
    for setting in settings:
        labels = evaluate_labels(embeddings, setting, base_graph)
        rows.append(asdict(setting) | {"name": setting.name, "variant": setting.variant} | score(embeddings, labels))
    return rows


def evaluate_labels(embeddings: LabeledEmbeddings, setting: Setting, base_graph: csr_matrix | None = None) -> np.ndarray:
    """The person label of every face of the set under one setting."""
    if base_graph is None:  # callers sweeping many settings pass one graph built at their lowest tau
        base_graph = clustering.neighbour_graph(embeddings.vectors, threshold=setting.threshold, k=setting.neighbours)
    graph = at_threshold(base_graph, setting.threshold)
    return clustering.cluster(graph, setting.method, vectors=embeddings.vectors, threshold=setting.threshold,
                              min_neighbours=setting.min_neighbours or clustering.DEFAULT_MIN_NEIGHBOURS)


def best_per_variant(rows: list[dict], metric: str = "bcubed_f1") -> dict[str, dict]:
    best = {}
    for row in rows:
        if row["variant"] not in best or row[metric] > best[row["variant"]][metric]:
            best[row["variant"]] = row
    return best


def sweep(embeddings: LabeledEmbeddings, *, tracking_uri: str | None = None, experiment: str = "facegraph-sweeps",
          refine: bool = True) -> tuple[list[dict], str]:
    """Run the coarse grid (and a finer one near each variant's best), log everything to MLflow, and return the
    rows and the parent run's id."""
    from evaluation import tracking

    base_graph = clustering.neighbour_graph(embeddings.vectors, threshold=min(THRESHOLDS) - 0.05,
                                            k=clustering.DEFAULT_NEIGHBOURS)
    rows = evaluate(embeddings, coarse_grid(), base_graph)
    if refine:
        rows += evaluate(embeddings, finer_grid(best_per_variant(rows)), base_graph)
    rows.sort(key=lambda row: (row["variant"], row["threshold"]))
    run_id = tracking.log_sweep(embeddings, rows, tracking_uri=tracking_uri, experiment=experiment)
    return rows, run_id


def table(rows: list[dict]) -> str:
    """A Markdown table of the best setting of each variant, best first."""
    best = sorted(best_per_variant(rows).values(), key=lambda row: -row["bcubed_f1"])
    lines = ["| method | tau | BCubed P | BCubed R | BCubed F1 | pairwise P | pairwise R | pairwise F1 | NMI | persons | identities | singletons |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in best:
        lines.append(
            f"| {row['variant']} | {row['threshold']:.2f} | {row['bcubed_precision']:.4f} | {row['bcubed_recall']:.4f} | "
            f"**{row['bcubed_f1']:.4f}** | {row['pairwise_precision']:.4f} | {row['pairwise_recall']:.4f} | "
            f"{row['pairwise_f1']:.4f} | {row['nmi']:.4f} | {row['persons']} | {row['identities']} | "
            f"{row['singleton_share']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    from facegraph.pipeline import FacePipeline

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labeled_set", help="a set under the datasets folder (lfw, five_celebs, ...) or a folder")
    parser.add_argument("--detector", default="retinaface", help="detector name or ONNX file")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: the local store in the data folder)")
    parser.add_argument("--no-refine", action="store_true", help="skip the finer pass near each method's best tau")
    parser.add_argument("--defaults-only", action="store_true", help="only score the shipped defaults (no MLflow)")
    args = parser.parse_args()
    root = datasets_root() / args.labeled_set
    root = root if root.is_dir() else Path(args.labeled_set)
    embeddings = labeled_embeddings(root, FacePipeline.from_names(args.detector), cache_dir=default_data_dir() / "embeddings")
    if args.defaults_only:
        [row] = evaluate(embeddings, [DEFAULT_SETTING])
        print(f"{embeddings.set_name} at the defaults ({DEFAULT_SETTING.name}):")
        print(table([row]))
        return
    rows, run_id = sweep(embeddings, tracking_uri=args.tracking_uri, refine=not args.no_refine)
    print(f"{embeddings.set_name}: {len(embeddings.identities)} photos, {len(embeddings.face_ids)} faces, "
          f"main face found in {embeddings.detection_rate:.2%}; models "
          + ", ".join(f"{m['file']} {m['sha256'][:12]}" for m in embeddings.models))
    print(table(rows))
    print(f"MLflow parent run {run_id}")


if __name__ == "__main__":
    main()
