"""Stable person ids: a new clustering keeps the id of the person each cluster mostly continues.

Ids are `person_<12 hex>`. A cluster that continues no earlier person gets an id made from its faces, so the same
photos, settings and prior state give the same ids in every run.
"""

from __future__ import annotations

import hashlib
from collections import Counter


def derived_person_id(*parts: str) -> str:
    """A deterministic `person_<12 hex>` id from the given strings (for example the sorted face ids)."""
    return "person_" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def carry_over_ids(labels, face_ids: list[str], prior: list[str | None], reserved: dict[int, str]) -> list[str]:
    """The person id for every cluster label.

    Parameters
    ----------
    labels : cluster label of each face (0..n_clusters-1).
    face_ids : each face's id.
    prior : each face's person id before this clustering (None if it had none).
    reserved : clusters whose id is fixed by a correction (label -> person id); their ids go to no other cluster.

    A cluster takes the prior id most of its faces had. When two clusters claim one id, the one with more of
    that person's faces wins (ties: the cluster whose first face id sorts first); the others, and clusters with no
    prior id, get an id derived from their faces.
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
    for label, members in clusters.items():
        if label not in ids:
            ids[label] = derived_person_id(*sorted(face_ids[i] for i in members))
    return [ids[label] for label in range(len(clusters))]
