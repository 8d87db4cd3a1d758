"""Stable person ids: a new clustering keeps the id of the person each cluster mostly continues.

Ids are `person_<12 hex>`. A cluster that continues no earlier person gets an id made from its faces, so the same
photos, settings and prior state give the same ids in every run. A made id never equals an id that is already
someone's (claimed in the same run, or held by any person in the store): two people never share an id.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Callable, Iterable

InUse = Callable[[list[str]], Iterable[str]]  # which of these ids the store already holds


def derived_person_id(*parts: str) -> str:
    """A deterministic `person_<12 hex>` id from the given strings (for example the sorted face ids)."""
    return "person_" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def fresh_person_id(parts: list[str], taken: set[str], in_use: InUse = lambda ids: ()) -> str:
    """`derived_person_id(*parts)`, or, where that id is in `taken` or in the store (`in_use`), the first of
    `derived_person_id(*parts, "#1")`, `"#2"`, ... that is neither: deterministic, and never someone else's id."""
    attempt = 0
    while True:
        candidate = derived_person_id(*parts, *([f"#{attempt}"] if attempt else []))
        if candidate not in taken and not set(in_use([candidate])):
            return candidate
        attempt += 1


def carry_over_ids(labels, face_ids: list[str], prior: list[str | None], reserved: dict[int, str],
                   in_use: InUse = lambda ids: ()) -> list[str]:
    """The person id for every cluster label.

    Parameters
    ----------
    labels : cluster label of each face (0..n_clusters-1).
    face_ids : each face's id.
    prior : each face's person id before this clustering (None if it had none).
    reserved : clusters whose id is fixed by a correction (label -> person id); their ids go to no other cluster.
    in_use : which of the ids given are held by persons in the store (those a made id must avoid).

    A cluster takes the prior id most of its faces had. When two clusters claim one id, the one with more of
    that person's faces wins (ties: the cluster whose first face id sorts first); the others, and clusters with no
    prior id, get a fresh id made from their faces (`fresh_person_id`), unlike every id claimed and every id in
    the store, so every cluster gets its own id.
    """
    clusters: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        clusters.setdefault(int(label), []).append(index)
    ids = dict(reserved)
    taken = set(reserved.values())
    claims = []
    for label, members in clusters.items():
        if label in ids:
            continue
        votes = Counter(prior[i] for i in members if prior[i] is not None and prior[i] not in taken)
        first_face = min(face_ids[i] for i in members)
        for person_id, overlap in votes.items():
            claims.append((-overlap, first_face, person_id, label))
    for _, _, person_id, label in sorted(claims):
        if label not in ids and person_id not in taken:
            ids[label] = person_id
            taken.add(person_id)
    unnamed = sorted(label for label in clusters if label not in ids)
    made = {label: derived_person_id(*sorted(face_ids[i] for i in clusters[label])) for label in unnamed}
    held = set(in_use(sorted(set(made.values())))) | taken  # one look-up for the usual case of no clash
    for label in unnamed:
        if made[label] in held:
            made[label] = fresh_person_id(sorted(face_ids[i] for i in clusters[label]), held, in_use)
        ids[label] = made[label]
        held.add(made[label])
    return [ids[label] for label in range(len(clusters))]
