"""More recall before any answer? Variants of the shipped default scored on every labeled set at once (issue 20):

- `mirrored`: the embedding of the mirrored aligned face added to the face's own (`ArcFace(mirrored=True)`), at the
  default and at the bars that keep LFW at its target;
- the valley of a two-component fit of each face's nearest-neighbour similarity, per set: the threshold a collection
  could pick from its own distribution.

    python -m evaluation.recall_variants [SET...]   # default: every dev set

prints a Markdown table of BCubed F1 per set and the worst set per variant, the mirrored embedder's time against the
plain one (measured here, in turns, on the same faces), and each set's valley.
"""

from __future__ import annotations

import time

import click
import numpy as np
from sklearn.mixture import GaussianMixture

from evaluation.embeddings import LabeledEmbeddings
from evaluation.sweep import DEV_SETS, labels_for, load_sets, score
from facegraph import neighbours
from facegraph.cluster_settings import ClusterSettings

DEFAULT = ClusterSettings()
VARIANTS = {  # name -> (mirrored embeddings?, settings)
    "default": (False, DEFAULT),
    "mirrored": (True, DEFAULT),
    "mirrored, τ 0.27, connect 0.41": (True, DEFAULT.with_(threshold=0.27, connect_threshold=0.41)),
}


def valley(embeddings: LabeledEmbeddings) -> float:
    """The least dense similarity between the two components of a Gaussian mixture of each face's nearest
    neighbour similarity (nan where the components do not straddle one)."""
    nearest = neighbours.neighbour_graph(embeddings.vectors, threshold=0.0, k=1, approximate=False)
    similarity = np.asarray(nearest.max(axis=1).todense()).ravel()
    mixture = GaussianMixture(2, random_state=0).fit(similarity[:, None])
    low, high = sorted(mixture.means_.ravel())
    grid = np.linspace(low, high, 501)[1:-1]
    return float(grid[np.argmin(mixture.score_samples(grid[:, None]))]) if len(grid) else float("nan")


def embedding_cost(plain, mirrored, faces: int = 128, turns: int = 3) -> float:
    """The mirrored embedder's seconds over the plain one's on the same aligned faces, the best of `turns` each."""
    crops = np.random.default_rng(0).integers(0, 256, (faces, 112, 112, 3), dtype=np.uint8)
    best = {}
    for _ in range(turns):
        for name, embedder in (("plain", plain), ("mirrored", mirrored)):
            start = time.perf_counter()
            embedder.embed(crops)
            best[name] = min(best.get(name, np.inf), time.perf_counter() - start)
    return best["mirrored"] / best["plain"]


@click.command()
@click.argument("labeled_sets", nargs=-1)
def main(labeled_sets) -> None:
    """Score the recall variants on the labeled sets."""
    from facegraph.pipeline import FacePipeline

    names = list(labeled_sets) or list(DEV_SETS)
    pipelines = FacePipeline.from_names(), FacePipeline.from_names(mirrored=True)
    plain, mirrored = (load_sets(names, pipeline) for pipeline in pipelines)
    rows = []
    for variant, (use_mirrored, settings) in VARIANTS.items():
        sets = mirrored if use_mirrored else plain
        scores = {e.set_name: score(e, labels_for(e, settings))["bcubed_f1"] for e in sets}
        rows.append(f"| {variant} | " + " | ".join(f"{scores[n]:.4f}" for n in names) + f" | {min(scores.values()):.4f} |")
    click.echo("| variant | " + " | ".join(names) + " | worst |\n|---|" + "---:|" * (len(names) + 1))
    click.echo("\n".join(rows))
    click.echo(f"\nthe mirrored embedder takes {embedding_cost(*(p.embedder for p in pipelines)):.2f}x the plain one's time "
               "(the detector and the rest of the pipeline are unchanged)")
    click.echo("valley of the nearest-neighbour similarity: " + ", ".join(f"{e.set_name} {valley(e):.3f}" for e in plain))


if __name__ == "__main__":
    main()
