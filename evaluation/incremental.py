"""Incremental clustering measured: a labeled set indexed in batches, each new face given a person by
`assign_person` as it arrives, `cluster_all` never called. The gap to `cluster_all` is the price of incrementality.

    python -m evaluation.incremental lfw [--batches 20] [--threshold T]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from tqdm import tqdm

from evaluation.embeddings import LabeledEmbeddings, labeled_embeddings
from evaluation.labeled import datasets_root
from evaluation.sweep import score
from facegraph.persons import DEFAULT_METHOD, DEFAULT_THRESHOLD, FaceGraph
from facegraph.store.base import FACES
from facegraph.store.embedded import EmbeddedStore


def synthetic_payload(face_id: str) -> dict:
    """The seed payload of a face known only by id and vector (the boxes are not kept with the embeddings)."""
    return {"face_id": face_id, "image_id": face_id.rsplit("_face", 1)[0], "bbox": [0, 0, 0, 0], "person_id": None,
            "person_confidence": None, "det_score": 1.0, "quality_score": 0.0, "indexed_at": "1970-01-01T00:00:00+00:00"}


def photo_batches(embeddings: LabeledEmbeddings, batches: int, seed: int = 0) -> list[np.ndarray]:
    """Face indices per batch: the photos shuffled (an import mixes people), then cut into `batches` parts."""
    photo_of_face = np.array([face_id.rsplit("_face", 1)[0] for face_id in embeddings.face_ids])
    photos = np.unique(photo_of_face)
    order = np.random.default_rng(seed).permutation(len(photos))
    return [np.flatnonzero(np.isin(photo_of_face, part)) for part in np.array_split(photos[order], batches)]


def incremental_labels(embeddings: LabeledEmbeddings, *, batches: int = 20, threshold: float = DEFAULT_THRESHOLD,
                       store_dir: str | None = None, progress: bool = True) -> np.ndarray:
    """Every face's person after indexing the set batch by batch with `assign_person` alone."""
    with tempfile.TemporaryDirectory() as scratch:
        graph = FaceGraph(store=EmbeddedStore(store_dir or scratch), pipeline=lambda: None)
        with graph, tqdm(total=len(embeddings.face_ids), unit="face", disable=not progress, desc="assign_person") as bar:
            for batch in photo_batches(embeddings, batches):
                keys = [str(embeddings.face_ids[i]) for i in batch]
                graph.store.upsert(FACES, keys, [synthetic_payload(key) for key in keys], embeddings.vectors[batch])
                for key in keys:
                    graph.assign_person(key, threshold)
                    bar.update()
            person_of = {p.payload["face_id"]: p.payload["person_id"] for p in graph.store.scroll(FACES)}
    names = [person_of[str(face_id)] for face_id in embeddings.face_ids]
    return np.unique(names, return_inverse=True)[1]


def main() -> None:
    from facegraph.pipeline import FacePipeline

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labeled_set", help="a set under the datasets folder (lfw, five_celebs, ...)")
    parser.add_argument("--batches", type=int, default=20, help="how many batches the set is indexed in")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="assign_person's threshold")
    args = parser.parse_args()
    embeddings = labeled_embeddings(datasets_root() / args.labeled_set, FacePipeline.from_names())
    start = time.perf_counter()
    labels = incremental_labels(embeddings, batches=args.batches, threshold=args.threshold)
    seconds = time.perf_counter() - start
    metrics = score(embeddings, labels)
    print(f"{args.labeled_set}, {args.batches} batches, assign_person only (method {DEFAULT_METHOD}, "
          f"tau {args.threshold}): {len(embeddings.face_ids)} faces in {seconds:.0f}s "
          f"({len(embeddings.face_ids) / seconds:.0f} faces/s)")
    print("  " + ", ".join(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}" for key, value in metrics.items()))


if __name__ == "__main__":
    main()
