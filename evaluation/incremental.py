"""Incremental clustering measured: a labeled set indexed in batches, `cluster_all` never called. Each batch's
faces are given persons as `add_photos(assign=True)` gives them (`assign_persons`, the batch reclustered with the
persons it touches), or one face at a time by `assign_person` (`--one-by-one`). The gap to `cluster_all` is the
price of incrementality.

    python -m evaluation.incremental lfw [--batches 20] [--one-by-one]   # at the shipped default, beside cluster_all
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from tqdm import tqdm

from evaluation.embeddings import LabeledEmbeddings
from evaluation.sweep import labels_for, load_sets, score, set_table
from facegraph.cluster_settings import ClusterSettings
from facegraph.persons import FaceGraph
from facegraph.collection import face_payload
from facegraph.store.embedded import EmbeddedStore


ASSIGNERS = {False: "assign_persons per batch", True: "assign_person per face"}


def synthetic_payload(face_id: str, quality_score: float = 30.0, side: float = 0.0) -> dict:
    """The payload of a face known by id, vector, quality and the shorter side of its box (the embeddings keep no
    box: a square of that side stands for it); 30 is the quality of a clear face."""
    return face_payload(face_id, face_id.rsplit("_face", 1)[0], bbox=(0, 0, side, side), det_score=1.0,
                        quality_score=quality_score, indexed_at="1970-01-01T00:00:00+00:00")


def photo_batches(embeddings: LabeledEmbeddings, batches: int, seed: int = 0) -> list[np.ndarray]:
    """Face indices per batch: the photos shuffled (an import mixes people), then cut into `batches` parts."""
    photo_of_face = np.array([face_id.rsplit("_face", 1)[0] for face_id in embeddings.face_ids])
    photos = np.unique(photo_of_face)
    order = np.random.default_rng(seed).permutation(len(photos))
    return [np.flatnonzero(np.isin(photo_of_face, part)) for part in np.array_split(photos[order], batches)]


def incremental_labels(embeddings: LabeledEmbeddings, *, batches: int = 20, settings: ClusterSettings | None = None,
                       one_by_one: bool = False, store_dir: str | None = None, progress: bool = True) -> np.ndarray:
    """Every face's person after indexing the set batch by batch, each batch given persons by `assign_persons`
    (or, `one_by_one`, each face by `assign_person`)."""
    with tempfile.TemporaryDirectory() as scratch:
        graph = FaceGraph(store=EmbeddedStore(store_dir or scratch), pipeline=lambda: None, settings=settings)
        with graph, tqdm(total=len(embeddings.face_ids), unit="face", disable=not progress,
                                desc=ASSIGNERS[one_by_one]) as bar:
            for batch in photo_batches(embeddings, batches):
                keys = [str(embeddings.face_ids[i]) for i in batch]
                payloads = [synthetic_payload(key, embeddings.quality[i]) for key, i in zip(keys, batch)]
                graph.collection.add_faces(keys, embeddings.vectors[batch], payloads)
                if one_by_one:
                    for key in keys:
                        graph.assign_person(key)
                        bar.update()
                else:
                    graph.assign_persons(keys)
                    bar.update(len(keys))
            faces = graph.collection.read_faces()
            person_of = dict(zip(faces.face_ids, faces.person_ids))
    names = [person_of[str(face_id)] for face_id in embeddings.face_ids]
    return np.unique(names, return_inverse=True)[1]


def main() -> None:
    from facegraph.pipeline import FacePipeline

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labeled_set", help="a set under the datasets folder (lfw, five_celebs, ...)")
    parser.add_argument("--batches", type=int, default=20, help="how many batches the set is indexed in")
    parser.add_argument("--one-by-one", action="store_true", help="assign_person per face, not assign_persons per batch")
    args = parser.parse_args()
    [embeddings] = load_sets([args.labeled_set], FacePipeline.from_names())
    settings = ClusterSettings()
    start = time.perf_counter()
    labels = incremental_labels(embeddings, batches=args.batches, settings=settings, one_by_one=args.one_by_one)
    seconds = time.perf_counter() - start
    print(f"{args.labeled_set}, {args.batches} batches, {ASSIGNERS[args.one_by_one]} ({settings.name}): "
          f"{len(embeddings.face_ids)} faces in {seconds:.0f}s ({len(embeddings.face_ids) / seconds:.0f} faces/s)")
    print(set_table([score(embeddings, labels) | {"name": ASSIGNERS[args.one_by_one]},
                     score(embeddings, labels_for(embeddings, settings)) | {"name": "cluster_all"}]))


if __name__ == "__main__":
    main()
