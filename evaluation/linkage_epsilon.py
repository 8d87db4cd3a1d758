"""How far the linkage over the graph may approximate (`sparse_linkage.EPSILON`), measured on the labeled sets:

    python -m evaluation.linkage_epsilon [SET...] [--epsilons 0.05,0.1,0.2]

At the default settings, for every dev set (default: all of them): BCubed F1 as shipped (scipy's exact average
linkage on each part of up to `clustering.MAX_LINKAGE_FACES` faces, which holds every part of these sets), then
with every part linked over the graph instead, as a part above that bound is: exactly (ε = 0) and at each ε. With
the size of the largest part and the seconds each took. An ε may ship only where every set's F1 stays the shipped
one to the fourth decimal.
"""

from __future__ import annotations

import time

import click
import numpy as np
from scipy.sparse.csgraph import connected_components

from evaluation.benchmark_clustering import linkage_epsilon, max_linkage_faces
from evaluation.sweep import DEV_SETS, base_graph, faces_of, load_sets, score
from facegraph import clustering, sparse_linkage
from facegraph.cluster_settings import ClusterSettings
from facegraph.pipeline import FacePipeline


def timed_f1(embeddings, graph, settings: ClusterSettings) -> str:
    start = time.perf_counter()
    labels = clustering.cluster(graph, faces_of(embeddings), settings)
    return f"{score(embeddings, labels)['bcubed_f1']:.4f} ({time.perf_counter() - start:.1f}s)"


@click.command()
@click.argument("labeled_sets", nargs=-1)
@click.option("--epsilons", default="0.05,0.1,0.2", show_default=True, help="the ε to try, besides 0")
def main(labeled_sets, epsilons) -> None:
    """BCubed F1 of each set at the default: as shipped, and linked over the graph at ε = 0 and each ε."""
    settings, tried = ClusterSettings(), [0.0, *(float(e) for e in epsilons.split(","))]
    click.echo(f"settings: {settings.name}; shipped ε {sparse_linkage.EPSILON}")
    click.echo("| set | faces | largest part | shipped (scipy per part) | "
               + " | ".join(f"over the graph, ε {e}" for e in tried) + " |")
    click.echo("|---|---|---|---|" + "---|" * len(tried))
    for embeddings in load_sets(labeled_sets or DEV_SETS, FacePipeline.from_names()):
        graph = base_graph(embeddings, [settings])
        connected = clustering.undirected(clustering.at_threshold(graph, settings.connect_bar))
        largest = np.bincount(connected_components(connected, directed=False)[1]).max()
        row = [embeddings.set_name, str(len(embeddings.vectors)), str(largest), timed_f1(embeddings, graph, settings)]
        for epsilon in tried:
            with max_linkage_faces(0), linkage_epsilon(epsilon):
                row.append(timed_f1(embeddings, graph, settings))
        click.echo("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
