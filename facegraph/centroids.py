"""Stored centroids of persons: what `assign_person` compares a newcomer with, instead of reading their faces.

A person of `CENTROID_FROM` faces or more keeps in its record the sum of its faces' vectors, their count and how
many of them are at each quality level. A newcomer's average similarity to every one of its faces, shifted for
quality as `cluster_all`'s average linkage shifts it, is then one dot product over every face of the person:
reading up to 64 of its vectors instead took most of `assign_person`'s time at scale (a vector read through the
engine costs about 0.07 ms), and was only a sample for a larger person. A person of one face is read whole.

Every write of a person's faces keeps it current: a recluster (`person_centroids`), a correction
(`Corrections.refresh`) and `assign_person` itself (`with_face`).
"""

from __future__ import annotations

import base64

import numpy as np

from facegraph.cluster_settings import ClusterSettings
from facegraph.clustering import QUALITY_LEVELS, level_qualities, quality_level
from facegraph.vectors import label_sums

CENTROID_FROM = 2  # faces: a person of one face is its own centroid, read as cheaply as the record


def centroid(total: np.ndarray, count: int, levels: np.ndarray, quality_range) -> dict:
    """A centroid as the person record stores it. The sum is float64 bytes in base64: the engine writes such a
    payload 26 times faster than a list of 512 numbers (0.15 ms against 4 ms on Edge), and it reads back exact."""
    return {"sum": base64.b64encode(np.asarray(total, dtype="<f8").tobytes()).decode("ascii"),
            "count": int(count), "levels": [int(n) for n in levels], "quality_range": [float(v) for v in quality_range]}


def vector_sum(stored: dict) -> np.ndarray:
    """The sum of the person's face vectors."""
    return np.frombuffer(base64.b64decode(stored["sum"]), dtype="<f8")


def of_faces(vectors: np.ndarray, quality: np.ndarray, quality_range) -> dict:
    """The centroid of some faces."""
    levels = np.bincount(quality_level(quality, quality_range), minlength=QUALITY_LEVELS + 1)
    return centroid(vectors.sum(axis=0, dtype=np.float64), len(vectors), levels, quality_range)


def person_centroids(labels: np.ndarray, vectors: np.ndarray, quality: np.ndarray, settings: ClusterSettings) -> dict[int, dict]:
    """The centroid of every label with at least CENTROID_FROM faces, by label (block-wise sums over all the faces:
    a copy of the vectors of a million faces would take 2 GB)."""
    counts = np.bincount(labels) if len(labels) else np.zeros(0, np.int64)
    large = np.flatnonzero(counts >= CENTROID_FROM)
    if not len(large):
        return {}
    row = np.full(len(counts), len(large))  # labels with fewer faces add up in a row left out
    row[large] = np.arange(len(large))
    sums = label_sums(row[labels], vectors)
    levels = np.zeros((len(large) + 1, QUALITY_LEVELS + 1), dtype=np.int64)
    np.add.at(levels, (row[labels], quality_level(quality, settings.quality_range)), 1)
    return {int(label): centroid(sums[i], counts[label], levels[i], settings.quality_range) for i, label in enumerate(large)}


def kept(stored: dict | None) -> dict | None:
    """The centroid if its person has enough faces to keep one (CENTROID_FROM), else None."""
    return stored if stored and stored["count"] >= CENTROID_FROM else None


def same(stored: dict | None, other: dict | None) -> bool:
    """Whether two centroids are equal, up to float rounding (a server may renormalise a vector it rewrites)."""
    if not stored or not other:
        return not stored and not other
    return ({k: v for k, v in stored.items() if k != "sum"} == {k: v for k, v in other.items() if k != "sum"}
            and np.allclose(vector_sum(stored), vector_sum(other), rtol=0.0, atol=1e-6))


def usable(stored: dict | None, settings: ClusterSettings) -> bool:
    """Whether a stored centroid can answer for these settings (its levels are of the same quality range)."""
    return bool(stored) and tuple(stored["quality_range"]) == tuple(settings.quality_range)


def with_face(stored: dict, vector: np.ndarray, quality: float, sign: int = 1) -> dict:
    """The centroid with one face added (sign 1) or taken out (sign -1)."""
    levels = np.array(stored["levels"])
    levels[quality_level(quality, stored["quality_range"])] += sign
    return centroid(vector_sum(stored) + sign * np.asarray(vector, dtype=np.float64), stored["count"] + sign,
                    levels, stored["quality_range"])


def average_similarity(stored: dict, vector: np.ndarray, quality: float, settings: ClusterSettings) -> float | None:
    """A face's cosine to every face of the person on average, each pair shifted for quality; None for no faces."""
    if stored["count"] <= 0:
        return None
    shifts = settings.similarity_shift(quality, level_qualities(stored["quality_range"]))
    total = float(np.asarray(vector, dtype=np.float64) @ vector_sum(stored)) + float(np.dot(stored["levels"], shifts))
    return total / stored["count"]
