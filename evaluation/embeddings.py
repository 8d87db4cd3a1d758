"""Embeddings of a labeled set, computed once and reused by every sweep setting and method.

The cache file is named after the set's fingerprint and the model hashes, so a changed set or model never reuses
stale vectors.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evaluation.labeled import load_labeled_set, main_face, main_face_rule
from facegraph.pipeline import FacePipeline, PhotoFaces
from facegraph.places import default_data_dir

CACHE_VERSION = 2  # bumped when the cached fields change, so an old file is never misread


def fingerprint(root: Path, relative_paths: list[str]) -> str:
    """16 hex digits naming a labeled set's content: its relative paths with their sizes and identities."""
    digest = hashlib.sha256()
    for relative in relative_paths:
        digest.update(f"{relative}\t{(root / relative).stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class LabeledEmbeddings:
    """Every face of every photo of a labeled set, and which face carries each photo's label."""

    set_name: str
    fingerprint: str
    face_ids: np.ndarray  # (faces,) str
    vectors: np.ndarray  # (faces, d) float32, unit length
    identities: np.ndarray  # (photos,) str
    main_faces: np.ndarray  # (photos,) index into faces, -1 where no face was found
    models: list[dict]  # family, file and sha256 of the detector and embedder
    seconds: float  # time the embedding took when it was computed
    quality: np.ndarray  # (faces,) float32: each face's quality_score (the embedding's norm before normalising)
    face_sizes: np.ndarray  # (faces,) float32: the shorter side of each face's box, in pixels
    root: str = ""  # the folder the set was read from

    @property
    def image_ids(self) -> np.ndarray:
        """(faces,) the photo of each face (a face id is `{image_id}_face{n}`)."""
        return np.array([face_id.rsplit("_face", 1)[0] for face_id in self.face_ids])

    @property
    def detection_rate(self) -> float:
        return float((self.main_faces >= 0).mean())

    def scored(self) -> tuple[np.ndarray, np.ndarray]:
        """(face indices, identities) of the labeled faces: one per photo where a face was found."""
        found = self.main_faces >= 0
        return self.main_faces[found], self.identities[found]


def labeled_embeddings(root: str | os.PathLike, pipeline: FacePipeline, *, cache_dir: Path | None = None,
                       progress: bool = True) -> LabeledEmbeddings:
    """The embeddings of the labeled set at `root`, from the cache or computed now (with a progress bar)."""
    root = Path(root)
    photos = load_labeled_set(root)
    relative = [str(photo.path.relative_to(root)) for photo in photos]
    set_name, print_ = root.name, fingerprint(root, relative)
    models = [{"family": m.family, "file": m.file, "sha256": m.sha256} for m in pipeline.models]
    tag = "-".join(m["sha256"][:8] for m in models) + ("-mirror" if getattr(pipeline.embedder, "mirrored", False) else "")
    cache = (cache_dir or default_data_dir() / "embeddings") / f"{set_name}-{print_}-{tag}-v{CACHE_VERSION}.npz"
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        return LabeledEmbeddings(set_name, print_, stored["face_ids"], stored["vectors"], stored["identities"],
                                 stored["main_faces"], json.loads(str(stored["models"])), float(stored["seconds"]),
                                 stored["quality"], stored["face_sizes"], str(root))
    rule = main_face_rule(set_name)
    face_ids, vectors, main_faces, quality, sizes = [], [], [], [], []
    start = time.perf_counter()
    results = pipeline.run([photo.path for photo in photos])
    for result in tqdm(results, total=len(photos), unit="photo", desc=f"embedding {set_name}", disable=not progress):
        main = main_face(result, rule) if isinstance(result, PhotoFaces) else None
        main_faces.append(-1)
        for face in result.faces if isinstance(result, PhotoFaces) else []:
            if face is main:
                main_faces[-1] = len(face_ids)
            face_ids.append(face.face_id)
            vectors.append(face.embedding)
            quality.append(face.quality_score)
            sizes.append(min(face.bbox[2] - face.bbox[0], face.bbox[3] - face.bbox[1]))
    embeddings = LabeledEmbeddings(
        set_name, print_, np.array(face_ids), np.stack(vectors).astype(np.float32),
        np.array([photo.identity for photo in photos]), np.array(main_faces), models, time.perf_counter() - start,
        np.array(quality, np.float32), np.array(sizes, np.float32), str(root),
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, face_ids=embeddings.face_ids, vectors=embeddings.vectors, identities=embeddings.identities,
                        main_faces=embeddings.main_faces, models=json.dumps(models), seconds=embeddings.seconds,
                        quality=embeddings.quality, face_sizes=embeddings.face_sizes)
    return embeddings
