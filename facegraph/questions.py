"""The questions whose answers fix the most: "are these two persons one?" and "is this face this person?".

Plain numpy over arrays, as `clustering` is: `facegraph.answers` feeds it the collection and asks the person.
Each question carries a calibrated probability of "yes" (a logistic model of measured features, fitted on the
labeled dev sets by `python -m evaluation.question_model`, which records the fit as an MLflow run) and its expected
gain: the probability that the answer changes the persons times the faces it moves, each counted with the faces it
then joins or leaves, i.e. the pairs of faces put right, the unit BCubed and pairwise scores count in. A merge moves
the smaller person's a faces to the other's b (a·b pairs), so a 40-face part of a 200-face person (8,000) is asked
before two single faces (1), and a single face of a 50-face person (50) before two single faces; "not this
person" moves one face away from the person's other faces. Ranking by a·b instead of by the faces moved alone
(min(a, b)) took the simulated reviewer further on lfw_degraded (0.9194 -> 0.9200 after 100 answers) and on
facescrub12 (0.9951 -> 0.9968), and ranked lfw_degraded's true merges 1st, 3rd and 4th instead of 28th, 41st and 52nd.
Every person, single faces included, is paired with its `CANDIDATES` nearest persons, so small persons are asked
about too.

A question is worth asking only if the person can answer it: the people a photo is of, not strangers in its
background. So each gain is weighed by the chance that each side shows a photo's subject (a third logistic model, of
the face's box against the largest face of its photo, its size and quality, fitted on which faces the dev sets label),
the best of the side's faces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facegraph.constraints import Faces, photo_numbers
from facegraph.person_merges import Members, directions, nearest_persons
from facegraph.vectors import label_sums

CANDIDATES = 5  # nearest persons (by mean direction) each person is paired with
SHOWN = 6  # faces shown of each side: the person's most central ones; a "no" keeps them apart for good
CLOSEST_SAMPLE = 64  # faces a side compared for the closest pair (the most central ones)

PAIR_FEATURES = ("centroid", "average", "closest", "log_small", "log_large", "quality")
FACE_FEATURES = ("confidence", "quality", "log_size")
SUBJECT_FEATURES = ("prominence", "log_side", "quality")
# The logistic models, fitted by `python -m evaluation.question_model` on every labeled dev set; the file names the
# MLflow run (experiment facegraph-questions) that records the fit.
MODEL = json.loads(Path(__file__).with_name("question_model.json").read_text())


@dataclass(frozen=True)
class Question:
    """One question for a person. `kind` is "same_person" (are `person_ids[0]` and `[1]` one person?) or
    "face_person" (is `face_id` `person_ids[0]`?). `shown` are the faces to show of each person (most central
    first; for "face_person", the face, then its person's faces). `probability` is that of "yes"; `gain` the
    pairs of faces the answer is expected to put right (`pair_gain`, `face_gain`), weighed by the chance that the
    person can answer (each side a photo's subject)."""

    kind: str
    person_ids: tuple[str, ...]
    shown: tuple[tuple[str, ...], ...]
    probability: float
    gain: float
    face_counts: tuple[int, ...]
    features: dict
    face_id: str | None = None

    @property
    def key(self) -> str:
        """What makes two questions the same question: its kind, persons and face."""
        return "|".join([self.kind, *sorted(self.person_ids), self.face_id or ""])


def probability(features: np.ndarray, model: dict) -> np.ndarray:
    """The logistic model's probability of "yes" for each row of features."""
    return 1.0 / (1.0 + np.exp(-(features @ np.asarray(model["weights"]) + model["bias"])))


def subject_features(sides: np.ndarray, image_ids, quality: np.ndarray) -> np.ndarray:
    """The features (`SUBJECT_FEATURES`) of each face: its box side over that of the largest face of its photo,
    the log of its side, and its quality."""
    photos = photo_numbers(image_ids)
    largest = np.zeros(photos.max(initial=-1) + 1)
    np.maximum.at(largest, photos, sides)
    return np.column_stack([sides / np.maximum(largest[photos], 1e-9), np.log1p(sides), quality / 30.0])


def subject_probability(sides: np.ndarray, image_ids, quality: np.ndarray) -> np.ndarray:
    """Each face's chance of being a subject of its photo (someone the person answering knows)."""
    return probability(subject_features(sides, image_ids, quality), MODEL["subject"])


def best_of_person(labels: np.ndarray, values: np.ndarray) -> np.ndarray:
    best = np.zeros(labels.max(initial=-1) + 1)
    np.maximum.at(best, labels, values)
    return best


def central_order(labels: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Faces sorted by person, most central (most alike its person's mean) first, and where each person starts."""
    sums = label_sums(labels, vectors)
    centrality = np.einsum("ij,ij->i", vectors, sums[labels])
    order = np.lexsort((-centrality, labels))
    return order, np.searchsorted(labels[order], np.arange(len(sums) + 1))


def pair_features(labels: np.ndarray, faces: Faces, pairs: np.ndarray) -> np.ndarray:
    """The features (`PAIR_FEATURES`) of each pair of persons (rows of labels a, b)."""
    means, counts = directions(labels, faces.vectors)
    sums = label_sums(labels, faces.vectors)
    quality = np.bincount(labels, faces.quality if faces.quality is not None else np.zeros(len(labels))) / counts
    order, starts = central_order(labels, faces.vectors)
    a, b = pairs[:, 0], pairs[:, 1]
    closest = np.array([_closest(faces.vectors, order, starts, x, y) for x, y in pairs.tolist()])
    small, large = np.minimum(counts[a], counts[b]), np.maximum(counts[a], counts[b])
    return np.column_stack([
        np.einsum("ij,ij->i", means[a], means[b]),
        np.einsum("ij,ij->i", sums[a], sums[b]) / (counts[a] * counts[b]),
        closest, np.log1p(small), np.log1p(large), np.minimum(quality[a], quality[b]) / 30.0,
    ])


def _closest(vectors, order, starts, a: int, b: int) -> float:
    side_a = vectors[order[starts[a]:min(starts[a + 1], starts[a] + CLOSEST_SAMPLE)]]
    side_b = vectors[order[starts[b]:min(starts[b + 1], starts[b] + CLOSEST_SAMPLE)]]
    return float((side_a @ side_b.T).max())


def candidate_pairs(labels: np.ndarray, faces: Faces) -> np.ndarray:
    """Pairs (a < b) of each person and its `CANDIDATES` nearest persons that a constraint does not keep apart
    (a shared photo, different pins, an answer)."""
    if labels.max(initial=-1) < 1:
        return np.empty((0, 2), np.int64)
    means, _ = directions(labels, faces.vectors)
    index, _ = nearest_persons(means, CANDIDATES)
    pairs = np.sort(np.column_stack([np.repeat(np.arange(len(means)), index.shape[1]), index.reshape(-1)]), axis=1)
    pairs = np.unique(pairs, axis=0)
    members = Members(labels, faces)
    keep = [n for n, (a, b) in enumerate(pairs.tolist()) if members.may_join(a, b)]
    return pairs[keep]


def pair_questions(labels: np.ndarray, faces: Faces, person_ids: list[str], face_ids: list[str],
                   asked: set[str] = frozenset(), subject: np.ndarray | None = None) -> list[Question]:
    """A "same_person" question for every candidate pair not `asked` before (by `Question.key`), unranked; gains
    weighed by each side's best chance of being a photo's subject (`subject`, per face; None: 1)."""
    pairs = candidate_pairs(labels, faces)
    if not len(pairs):
        return []
    features = pair_features(labels, faces, pairs)
    p = probability(features, MODEL["pair"])
    counts = np.bincount(labels)
    known = best_of_person(labels, np.ones(len(labels)) if subject is None else subject)
    order, starts = central_order(labels, faces.vectors)
    shown = [tuple(face_ids[i] for i in order[starts[x]:min(starts[x + 1], starts[x] + SHOWN)])
             for x in range(len(counts))]
    questions = [Question("same_person", (person_ids[a], person_ids[b]), (shown[a], shown[b]), float(p[n]),
                          float(pair_gain(p[n], counts[a], counts[b]) * known[a] * known[b]),
                          (int(counts[a]), int(counts[b])),
                          dict(zip(PAIR_FEATURES, map(float, features[n]))))
                 for n, (a, b) in enumerate(pairs.tolist())]
    return [q for q in questions if q.key not in asked]


def pair_gain(p, a, b):
    """The pairs of faces that answering "are these persons of a and b faces one?" is expected to put right: a
    "yes" moves the smaller person's faces, each of which then joins every face of the other (a·b pairs)."""
    return p * a * b


def face_gain(p, size):
    """The pairs of faces that answering "is this face its person of `size` faces?" is expected to put right: a
    "no" moves the face out, away from the person's other faces."""
    return (1.0 - p) * (size - 1)


def face_features(labels: np.ndarray, faces: Faces) -> np.ndarray:
    """The features (`FACE_FEATURES`) of each face in its person: its cosine to the mean of the person's other
    faces, its quality, and the person's size (0 confidence for a single face)."""
    sums, counts = label_sums(labels, faces.vectors), np.bincount(labels)
    others = sums[labels] - faces.vectors
    norms = np.linalg.norm(others, axis=1)
    confidence = np.where(counts[labels] > 1, np.einsum("ij,ij->i", faces.vectors, others) / np.maximum(norms, 1e-12), 0)
    quality = faces.quality if faces.quality is not None else np.zeros(len(labels))
    return np.column_stack([confidence, quality / 30.0, np.log1p(counts[labels])])


def face_questions(labels: np.ndarray, faces: Faces, person_ids: list[str], face_ids: list[str],
                   asked: set[str] = frozenset(), limit: int = 100, subject: np.ndarray | None = None) -> list[Question]:
    """A "face_person" question for the `limit` unpinned faces of persons of three faces or more whose answers
    are expected to put the most right (gains weighed by `subject`, as in `pair_questions`)."""
    counts = np.bincount(labels)
    features = face_features(labels, faces)
    p = probability(features, MODEL["face"])
    subject = np.ones(len(labels)) if subject is None else subject
    gain = face_gain(p, counts[labels]) * subject * best_of_person(labels, subject)[labels]
    open_ = np.flatnonzero((counts[labels] >= 3) & (faces.pins < 0))
    open_ = open_[np.argsort(-gain[open_], kind="stable")]
    order, starts = central_order(labels, faces.vectors)
    found = []
    for i in open_.tolist():
        person = int(labels[i])
        end = min(starts[person + 1], starts[person] + SHOWN + 1)
        side = tuple(face_ids[j] for j in order[starts[person]:end] if j != i)[:SHOWN]
        question = Question("face_person", (person_ids[person],), ((face_ids[i],), side), float(p[i]),
                            float(gain[i]), (int(counts[person]),), dict(zip(FACE_FEATURES, map(float, features[i]))),
                            face_id=face_ids[i])
        if question.key in asked:
            continue
        found.append(question)
        if len(found) == limit:
            break
    return found


def ranked(questions: list[Question], limit: int) -> list[Question]:
    """The `limit` questions of highest expected gain (ties: the likelier "yes", then by key, so runs agree)."""
    return sorted(questions, key=lambda q: (-q.gain, -q.probability, q.key))[:limit]
