"""Threshold and method sweeps over the labeled sets, and the choice of the default from all of them at once.

Every setting (a `ClusterSettings`) is scored on every set; the default is the setting with the best worst-set
BCubed F1 (ties: the best mean), never one set's best, because LFW's news crops and users' whole photos behave
differently. The embeddings are computed once per set and every setting reuses them. This module only computes;
`evaluation.tracking` logs a result to MLflow, and `main` (the CLI), the notebook and the Dagster asset compose
the two.

    python -m evaluation.sweep                       # every dev set; logs the sweep to MLflow
    python -m evaluation.sweep five_celebs lfw       # some sets
    python -m evaluation.sweep --defaults-only       # the shipped default on every dev set, nothing logged
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
from scipy.sparse import csr_matrix
from tqdm import tqdm

from evaluation.embeddings import LabeledEmbeddings, labeled_embeddings
from evaluation.labeled import datasets_root
from evaluation.metrics import bcubed_scores, nmi_score, pairwise_scores, singleton_share
from facegraph import clustering, neighbours
from facegraph.cluster_settings import ClusterSettings
from facegraph.constraints import Faces, photo_numbers
from facegraph.places import default_data_dir

DEV_SETS = ("lfw", "lfw_degraded", "five_celebs", "deepface_celebs", "facescrub12")
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.801, 0.05))
CHOICE_RULE = "best worst-set BCubed F1, ties by the mean"
PLAIN = {"poor_threshold": None, "connect_threshold": None}  # every pair held to τ, which alone connects
QUALITY = {"poor_threshold": 0.2, "quality_range": (19.0, 25.0)}


def variant(method: str, **parameters) -> ClusterSettings:
    """A method with its own parameters, every other one spelled out (not taken from the shipped default)."""
    return ClusterSettings(method, **PLAIN | parameters)


VARIANTS = (  # every method with its own parameters; τ is swept for each
    variant("components"), variant("average"), variant("mutual"),
    variant("density", min_neighbours=2), variant("density", min_neighbours=3),
    variant("whispers"), variant("infomap"), variant("leiden", resolution=0.1),
    # quality-aware linking: the bar falls to poor_threshold for poor faces
    variant("average", **QUALITY),
    variant("average", poor_threshold=0.2, quality_range=(18.0, 24.0)),
    variant("average", poor_threshold=0.2, quality_range=(18.0, 26.0)),
    variant("average", poor_threshold=0.15, quality_range=(18.0, 26.0)),
    variant("average", poor_threshold=0.25, quality_range=(19.0, 25.0)),
    variant("whispers", **QUALITY), variant("infomap", **QUALITY),
    # connect at one bar, link at another: a face must be clearly alike one face of a person first
    *(variant("average", connect_threshold=connect, poor_threshold=poor, quality_range=(18.0, 26.0))
      for connect in (0.37, 0.38, 0.39, 0.40, 0.41) for poor in (0.2, 0.22)),
    # the second pass: persons that are each other's nearest merge
    variant("average", merge_threshold=0.45), variant("average", merge_threshold=0.45, **QUALITY),
)


def coarse_grid(variants=VARIANTS, thresholds=THRESHOLDS) -> list[ClusterSettings]:
    return [base.with_(threshold=tau) for base in variants for tau in thresholds]


def finer_grid(best: list[ClusterSettings], done: set[str]) -> list[ClusterSettings]:
    """Steps of 0.01 within 0.04 of each variant's best τ, less the settings already scored."""
    grid = []
    for settings in best:
        for tau in np.arange(settings.threshold - 0.04, settings.threshold + 0.041, 0.01):
            candidate = settings.with_(threshold=round(float(tau), 2))
            if 0.0 < candidate.threshold < 1.0 and candidate.name not in done:
                grid.append(candidate)
    return grid


def faces_of(embeddings: LabeledEmbeddings) -> Faces:
    """What clustering knows of a labeled set's faces: vectors, photos and quality (no corrections)."""
    return Faces(embeddings.vectors, photo_numbers(embeddings.image_ids), quality=embeddings.quality)


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


def base_graph(embeddings: LabeledEmbeddings, settings: list[ClusterSettings]) -> csr_matrix:
    """One neighbour graph at the lowest τ of `settings`, cut for each (in `clustering.cluster`); exact or
    approximate as the first setting says."""
    return neighbours.neighbour_graph(embeddings.vectors, threshold=min(s.lowest_threshold for s in settings),
                                      k=max(s.neighbours for s in settings), approximate=settings[0].approximate)


def labels_for(embeddings: LabeledEmbeddings, settings: ClusterSettings, graph: csr_matrix | None = None) -> np.ndarray:
    """The person label of every face of the set under one setting (`graph`: a base graph at a lower τ)."""
    graph = base_graph(embeddings, [settings]) if graph is None else graph
    return clustering.cluster(graph, faces_of(embeddings), settings)


def evaluate(embeddings: LabeledEmbeddings, grid: list[ClusterSettings], graph: csr_matrix | None = None,
             *, progress: bool = False) -> list[dict]:
    """A row per setting: its parameters, name and variant, and every metric on this set."""
    graph = base_graph(embeddings, grid) if graph is None else graph
    rows = []
    for settings in tqdm(grid, desc=f"clustering {embeddings.set_name}", unit="setting", disable=not progress):
        rows.append(settings.parameters() | {"name": settings.name, "variant": settings.variant, "settings": settings,
                                             "set": embeddings.set_name}
                    | score(embeddings, labels_for(embeddings, settings, graph)))
    return rows


@dataclass
class SweepResult:
    """Every setting scored on every set, and the default that the scores choose."""

    rows: list[dict]  # one per (setting, set)
    sets: list[str]
    chosen_labels: dict[str, np.ndarray] = field(default_factory=dict)  # set -> labels at the chosen setting
    rule: str = CHOICE_RULE  # how the scores choose

    def combined(self) -> list[dict]:
        """A row per setting: its worst-set and mean BCubed F1, and each set's BCubed and pairwise F1; best first."""
        by_name: dict[str, dict] = {}
        for row in self.rows:
            entry = by_name.setdefault(row["name"], {"name": row["name"], "variant": row["variant"],
                                                     "settings": row["settings"], "per_set": {}})
            entry["per_set"][row["set"]] = row
        combined = []
        for entry in by_name.values():
            f1 = [entry["per_set"][name]["bcubed_f1"] for name in self.sets if name in entry["per_set"]]
            combined.append(entry | {"worst_bcubed_f1": min(f1), "mean_bcubed_f1": float(np.mean(f1))})
        return sorted(combined, key=lambda row: (-row["worst_bcubed_f1"], -row["mean_bcubed_f1"], row["name"]))

    def best_per_variant(self) -> list[dict]:
        """Each variant at its own best worst-set τ, best first."""
        best = {}
        for row in self.combined():
            best.setdefault(row["variant"], row)
        return list(best.values())

    @property
    def chosen(self) -> ClusterSettings:
        return self.combined()[0]["settings"]


def sweep(sets: list[LabeledEmbeddings], variants=VARIANTS, thresholds=THRESHOLDS, *, refine: bool = True,
          progress: bool = True) -> SweepResult:
    """Score the coarse grid on every set, then (with `refine`) steps of 0.01 near each variant's best worst-set
    τ; the result chooses the default and holds its labels on every set."""
    grid = coarse_grid(variants, thresholds)
    graphs = {e.set_name: base_graph(e, grid) for e in sets}  # the finer grid stays above the lowest τ
    result = SweepResult([row for e in sets for row in evaluate(e, grid, graphs[e.set_name], progress=progress)],
                         [e.set_name for e in sets])
    if refine:
        finer = finer_grid([row["settings"] for row in result.best_per_variant()], {row["name"] for row in result.rows})
        finer = [s for s in finer if s.threshold >= min(thresholds)]
        result.rows += [row for e in sets for row in evaluate(e, finer, graphs[e.set_name], progress=progress)]
    result.chosen_labels = {e.set_name: labels_for(e, result.chosen, graphs[e.set_name]) for e in sets}
    return result


def set_table(rows: list[dict]) -> str:
    """A Markdown table of rows of one set: each row's settings and every metric."""
    lines = ["| setting | BCubed P | BCubed R | BCubed F1 | pairwise P | pairwise R | pairwise F1 | NMI | persons | identities | singletons |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['name']} | {row['bcubed_precision']:.4f} | {row['bcubed_recall']:.4f} | "
            f"**{row['bcubed_f1']:.4f}** | {row['pairwise_precision']:.4f} | {row['pairwise_recall']:.4f} | "
            f"{row['pairwise_f1']:.4f} | {row['nmi']:.4f} | {row['persons']} | {row['identities']} | "
            f"{row['singleton_share']:.3f} |"
        )
    return "\n".join(lines)


def combined_table(result: SweepResult) -> str:
    """Every variant at its best worst-set τ: BCubed F1 (pairwise F1) on each set, the worst and the mean."""
    lines = ["| setting | " + " | ".join(result.sets) + " | worst | mean |", "|---" * (len(result.sets) + 3) + "|"]
    for row in result.best_per_variant():
        cells = [f"{row['per_set'][name]['bcubed_f1']:.4f} ({row['per_set'][name]['pairwise_f1']:.4f})"
                 for name in result.sets]
        lines.append(f"| {row['name']} | " + " | ".join(cells) +
                     f" | **{row['worst_bcubed_f1']:.4f}** | {row['mean_bcubed_f1']:.4f} |")
    return "\n".join(lines)


def load_sets(names, pipeline, *, progress: bool = True) -> list[LabeledEmbeddings]:
    """The embeddings of labeled sets by name (under the datasets folder; `lfw_degraded` is made from LFW) or
    folder."""
    from evaluation.degraded import NAME as DEGRADED, make_degraded_lfw

    loaded = []
    for name in names:
        root = make_degraded_lfw(progress=progress) if name == DEGRADED else datasets_root() / name
        root = root if root.is_dir() else Path(name)
        loaded.append(labeled_embeddings(root, pipeline, cache_dir=default_data_dir() / "embeddings", progress=progress))
    return loaded


@click.command(help=__doc__.split("\n\n")[0] + "\n\nLABELED_SETS: sets under the datasets folder, or folders "
                    "(default: every dev set).")
@click.argument("labeled_sets", nargs=-1)
@click.option("--detector", default="retinaface", show_default=True, help="Detector name or ONNX file.")
@click.option("--tracking-uri", help="MLflow tracking URI (default: the local store in the data folder).")
@click.option("--no-refine", is_flag=True, help="Skip the finer pass near each method's best τ.")
@click.option("--defaults-only", is_flag=True, help="Only score the shipped default (no MLflow).")
@click.option("--approximate", is_flag=True,
              help="With --defaults-only: also score it on the approximate neighbour graph, forced on.")
@click.option("--record", "record_to", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the chosen setting, its scores and the MLflow run here (docs/chosen_default.json is the "
                   "shipped default's record).")
def main(labeled_sets, detector, tracking_uri, no_refine, defaults_only, approximate, record_to) -> None:
    from evaluation import tracking
    from facegraph.pipeline import FacePipeline

    sets = load_sets(list(labeled_sets) or list(DEV_SETS), FacePipeline.from_names(detector))
    for embeddings in sets:
        click.echo(f"{embeddings.set_name}: {len(embeddings.identities)} photos, {len(embeddings.face_ids)} faces, "
                   f"main face found in {embeddings.detection_rate:.2%}")
    if defaults_only:
        default = ClusterSettings()
        click.echo(f"the shipped default ({default.name}):")
        rows = [row | {"name": row["set"]} for e in sets for row in evaluate(e, [default])]
        if approximate:
            forced = default.with_(approximate=True)
            rows += [row | {"name": f"{row['set']} (approximate graph)"} for e in sets for row in evaluate(e, [forced])]
        click.echo(set_table(rows))
        return
    result = sweep(sets, refine=not no_refine)
    run_id = tracking.log_sweep(sets, result, tracking_uri=tracking_uri)
    click.echo(combined_table(result))
    chosen = result.combined()[0]
    click.echo(f"chosen: {chosen['name']} (worst-set BCubed F1 {chosen['worst_bcubed_f1']:.4f}); MLflow parent run {run_id}")
    click.echo(set_table([chosen["per_set"][name] | {"name": name} for name in result.sets]))
    if record_to:
        record_to.write_text(json.dumps(record(result, run_id), indent=2) + "\n")


def record(result: SweepResult, run_id: str) -> dict:
    """What chose a default: the setting, the rule, the scores on every set and the MLflow parent run."""
    chosen = result.combined()[0]
    metrics = ("bcubed_f1", "pairwise_f1", "bcubed_precision", "bcubed_recall", "persons", "identities")
    return {"settings": chosen["settings"].parameters(), "rule": CHOICE_RULE,
            "sets": result.sets, "worst_bcubed_f1": chosen["worst_bcubed_f1"], "mean_bcubed_f1": chosen["mean_bcubed_f1"],
            "scores": {name: {key: chosen["per_set"][name][key] for key in metrics} for name in result.sets},
            "mlflow_parent_run": run_id, "command": "python -m evaluation.sweep --record docs/chosen_default.json"}


if __name__ == "__main__":
    main()
