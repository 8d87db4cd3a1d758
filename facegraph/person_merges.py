"""Persons that are probably one: pairs of persons whose faces point the same way.

Two uses: the optional second pass of `cluster` merges persons that are each other's nearest
(`merge_nearest_persons`), and `suggest_merges` ranks the pairs a person should look at, with the evidence.
A person's direction is the normalised mean of its faces' unit vectors; persons that share a photo, or hold faces
pinned to different persons, are never paired.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facegraph.vectors import label_sums
from facegraph.constraints import Faces

BLOCK = 2048  # persons compared at a time: memory stays bounded with many persons


@dataclass(frozen=True)
class MergeSuggestion:
    """Two persons that are probably one, and why."""

    person_ids: tuple[str, str]
    similarity: float  # cosine of the two persons' mean directions
    average_similarity: float  # mean cosine over every pair of their faces
    closest_similarity: float  # the most alike pair of their faces
    face_counts: tuple[int, int]


def directions(labels: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unit mean direction, face count) of every label 0..max."""
    sums = label_sums(labels, vectors)
    counts = np.bincount(labels, minlength=len(sums))
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12), counts


def nearest_persons(means: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For each person, its `k` most alike other persons (indices, cosines), best first; computed in blocks."""
    k = min(k, len(means) - 1)
    index, similarity = np.zeros((len(means), k), np.int64), np.zeros((len(means), k))
    for start in range(0, len(means), BLOCK):
        block = means[start:start + BLOCK] @ means.T
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
        top = np.argpartition(-block, k - 1, axis=1)[:, :k] if k else np.zeros((len(block), 0), np.int64)
        top_sims = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")
        index[start:start + len(block)] = np.take_along_axis(top, order, axis=1)
        similarity[start:start + len(block)] = np.take_along_axis(top_sims, order, axis=1)
    return index, similarity


class Members:
    """The faces of each label, and whether two labels may join."""

    def __init__(self, labels: np.ndarray, faces: Faces):
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(labels.max() + 2))
        self.of = [order[bounds[i]:bounds[i + 1]] for i in range(labels.max() + 1)]
        self.pins, self.photos = faces.pins, faces.photo_numbers
        ends = labels[faces.apart_pairs]
        self.apart = {(int(min(x, y)), int(max(x, y))) for x, y in ends.tolist()}  # persons an answer keeps apart

    def may_join(self, a: int, b: int) -> bool:
        pins_a, pins_b = set(self.pins[self.of[a]]) - {-1}, set(self.pins[self.of[b]]) - {-1}
        if pins_a and pins_b and pins_a != pins_b:
            return False
        if (min(a, b), max(a, b)) in self.apart:
            return False
        return set(self.photos[self.of[a]].tolist()).isdisjoint(self.photos[self.of[b]].tolist())


def merge_nearest_persons(labels: np.ndarray, faces: Faces, threshold: float, *, rounds: int = 3) -> np.ndarray:
    """Merge every two persons that are each other's nearest (by mean direction) and at least `threshold` alike,
    unless a constraint keeps them apart; repeated up to `rounds` times, as merged persons have new nearest."""
    labels = np.unique(labels, return_inverse=True)[1].reshape(-1)
    for _ in range(rounds):
        if labels.max() < 1:
            break
        means, _ = directions(labels, faces.vectors)
        index, similarity = nearest_persons(means, 1)
        nearest, similarity = index[:, 0], similarity[:, 0]
        persons = np.arange(len(means))
        pairs = persons[(nearest[nearest] == persons) & (persons < nearest) & (similarity >= threshold)]
        members = Members(labels, faces)
        joined = [(a, nearest[a]) for a in pairs if members.may_join(a, nearest[a])]
        if not joined:
            break
        target = np.arange(len(means))
        for a, b in joined:
            target[b] = a
        labels = np.unique(target[labels], return_inverse=True)[1].reshape(-1)
    return labels


def suggest_merges(labels: np.ndarray, faces: Faces, person_ids: list[str], *, limit: int = 10,
                   kept_apart: set[frozenset] = frozenset(), candidates: int = 3) -> list[MergeSuggestion]:
    """The `limit` pairs of persons most likely to be one, most alike first.

    Each person is paired with its `candidates` nearest persons by mean direction; pairs a constraint keeps apart
    (a shared photo, faces pinned to different persons) or that a correction split (`kept_apart`, pairs of person
    ids) are left out. `person_ids[label]` names the person of each label.
    """
    if labels.max(initial=-1) < 1:
        return []
    means, counts = directions(labels, faces.vectors)
    index, similarity = nearest_persons(means, candidates)
    order = np.argsort(-similarity, axis=None, kind="stable")
    members = Members(labels, faces)
    seen, found = set(), []
    for flat in order:
        person, rank = divmod(int(flat), index.shape[1])
        a, b = sorted((person, int(index[person, rank])))
        pair = frozenset((person_ids[a], person_ids[b]))
        if (a, b) in seen or pair in kept_apart or not members.may_join(a, b):
            continue
        seen.add((a, b))
        across = faces.vectors[members.of[a]] @ faces.vectors[members.of[b]].T
        found.append(MergeSuggestion((person_ids[a], person_ids[b]), float(means[a] @ means[b]),
                                     float(across.mean()), float(across.max()), (int(counts[a]), int(counts[b]))))
        if len(found) == limit:
            break
    return found
