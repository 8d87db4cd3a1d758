"""Benchmark of `cluster_all` and `assign_person` on synthetic faces in the embedded store. Prints figures and
the machine; it asserts nothing.

    python -m evaluation.benchmark_clustering [--faces 100000] [--threshold 0.5]

The faces are unit vectors with identity structure: persons of Zipf-like sizes (from 1 face to a few hundred),
each face its person's direction plus noise, scaled so that two faces of one person have a cosine of about 0.55
on average (spread 0.35 to 0.75) and faces of different persons about 0, as ArcFace faces do.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import networkx as nx
import numpy as np
from scipy.sparse.csgraph import connected_components

from evaluation.benchmark_pipeline import machine
from evaluation.incremental import synthetic_payload
from facegraph import clustering
from facegraph.clustering import ClusterSettings
from facegraph.persons import FaceGraph
from facegraph.store.base import FACES
from facegraph.store.embedded import EmbeddedStore

DIMENSION = 512


def synthetic_faces(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` unit vectors and their person labels."""
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < count:
        sizes.append(min(int(rng.zipf(1.8)), 400))
    sizes[-1] -= sum(sizes) - count
    labels = np.repeat(np.arange(len(sizes)), sizes)
    centres = rng.standard_normal((len(sizes), DIMENSION)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # noise of norm s per face: two faces of a person meet at about 1 / (1 + s^2)
    noise_norm = rng.uniform(0.75, 1.05, size=count).astype(np.float32)
    noise = rng.standard_normal((count, DIMENSION)).astype(np.float32)
    noise *= (noise_norm / np.linalg.norm(noise, axis=1))[:, None]
    vectors = centres[labels] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, labels


def fill_store(store: EmbeddedStore, vectors: np.ndarray) -> None:
    keys = [f"{n:016x}_face0" for n in range(len(vectors))]
    payloads = [synthetic_payload(key) for key in keys]
    for start in range(0, len(keys), 10_000):
        store.upsert(FACES, keys[start : start + 10_000], payloads[start : start + 10_000], vectors[start : start + 10_000])


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(samples, q) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=100_000, help="faces in the collection")
    parser.add_argument("--threshold", type=float, default=ClusterSettings().threshold,
                        help="cosine threshold of the neighbour graph")
    parser.add_argument("--assign", type=int, default=200, help="new faces given a person one by one")
    parser.add_argument("--optimize", action="store_true", help="also build the HNSW index and time searches after it")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    vectors, labels = synthetic_faces(args.faces + args.assign)
    vectors, new_vectors = vectors[: args.faces], vectors[args.faces :]
    same = labels[: args.faces]
    pairs = np.random.default_rng(1).integers(0, args.faces, size=(20_000, 2))
    cos = np.einsum("ij,ij->i", vectors[pairs[:, 0]], vectors[pairs[:, 1]])
    together = same[pairs[:, 0]] == same[pairs[:, 1]]
    print(f"{args.faces} synthetic faces of {len(np.unique(same))} persons (largest {np.bincount(same).max()}); "
          f"cosine within a person {np.mean(cos[together]) if together.any() else float('nan'):.2f}, "
          f"between persons {cos[~together].mean():.2f}")
    with tempfile.TemporaryDirectory() as folder, FaceGraph(store=EmbeddedStore(folder), pipeline=lambda: None) as graph:
        start = time.perf_counter()
        fill_store(graph.store, vectors)
        print(f"upsert: {time.perf_counter() - start:.1f}s")
        for method in ("components", ClusterSettings().method):
            start = time.perf_counter()
            persons = graph.cluster_all(method=method, threshold=args.threshold)
            total = time.perf_counter() - start
            phases = ", ".join(f"{phase} {seconds:.1f}s" for phase, seconds in graph.last_run["seconds"].items())
            print(f"cluster_all(tau={args.threshold}, method={method}): {total:.1f}s in all ({phases}); {persons} "
                  f"persons, {graph.last_run['edges']} edges, {graph.last_run['faces_rewritten']} faces rewritten "
                  "(target: under 120s)")

        graph_matrix = clustering.neighbour_graph(vectors, threshold=args.threshold)
        start = time.perf_counter()
        count, _ = connected_components(graph_matrix, directed=False)
        scipy_seconds = time.perf_counter() - start
        start = time.perf_counter()
        nx_count = nx.number_connected_components(nx.from_scipy_sparse_array(graph_matrix))
        nx_seconds = time.perf_counter() - start
        print(f"connected components on the same graph: scipy {scipy_seconds:.2f}s ({count}), "
              f"NetworkX {nx_seconds:.2f}s ({nx_count}, building its graph included)")

        sample = vectors[:1000]
        start = time.perf_counter()
        graph.store.search(sample, limit=clustering.DEFAULT_NEIGHBOURS + 1, threshold=args.threshold)
        qdrant_seconds = (time.perf_counter() - start) * len(vectors) / len(sample)
        exact_seconds = graph.last_run["seconds"]["neighbour_graph"]
        print(f"neighbour graph: exact blocked numpy {exact_seconds:.1f}s; Qdrant batched search (unindexed) "
              f"{qdrant_seconds:.0f}s estimated from {len(sample)} queries")

        assign_latency(graph, new_vectors, args.threshold, "before optimize")
        if args.optimize:
            start = time.perf_counter()
            graph.store.optimize()
            print(f"optimize (HNSW build): {time.perf_counter() - start:.1f}s")
            assign_latency(graph, new_vectors, args.threshold, "after optimize", offset=1)


def assign_latency(graph: FaceGraph, new_vectors: np.ndarray, threshold: float, when: str, offset: int = 0) -> None:
    keys = [f"new{offset}_{n:012x}_face0" for n in range(len(new_vectors))]
    payloads = [synthetic_payload(key) for key in keys]
    graph.store.upsert(FACES, keys, payloads, new_vectors)
    samples = []
    for key in keys:
        start = time.perf_counter()
        graph.assign_person(key, threshold=threshold)
        samples.append(time.perf_counter() - start)
    print(f"assign_person {when}, {len(keys)} new faces: median {percentile_ms(samples, 50):.1f} ms, "
          f"p99 {percentile_ms(samples, 99):.1f} ms")


if __name__ == "__main__":
    main()
