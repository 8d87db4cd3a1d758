"""How good merge suggestions are: cluster a labeled set at a setting (default: the shipped one), ask for the top
suggestions, and count those whose two persons are mostly one identity (a true merge).

    python -m evaluation.suggestions five_celebs facescrub12 [--limit 10]
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from evaluation.embeddings import LabeledEmbeddings
from evaluation.sweep import faces_of, labels_for, load_sets
from facegraph.cluster_settings import ClusterSettings
from facegraph.person_merges import suggest_merges


def majority_identities(embeddings: LabeledEmbeddings, labels: np.ndarray) -> dict[int, str]:
    """Each person (label) that holds labeled faces -> the identity most of them have."""
    faces, identities = embeddings.scored()
    votes: dict[int, Counter] = {}
    for face, identity in zip(faces, identities):
        votes.setdefault(int(labels[face]), Counter())[identity] += 1
    return {label: counts.most_common(1)[0][0] for label, counts in votes.items()}


def true_merges(embeddings: LabeledEmbeddings, settings: ClusterSettings, limit: int = 10) -> dict:
    """Of the top `limit` suggestions: how many join two persons of one identity (`right`), how many could be
    judged at all (both persons hold labeled faces; the others are faces of people in the background), and how
    many true merges there were to find."""
    labels = labels_for(embeddings, settings)
    names = [str(label) for label in range(labels.max() + 1)]
    suggestions = suggest_merges(labels, faces_of(embeddings), names, limit=limit)
    identity = majority_identities(embeddings, labels)
    pairs = [(identity.get(int(a)), identity.get(int(b))) for a, b in (s.person_ids for s in suggestions)]
    return {"suggestions": len(suggestions), "judged": sum(a is not None and b is not None for a, b in pairs),
            "right": sum(a is not None and a == b for a, b in pairs),
            "to_find": sum(count - 1 for count in Counter(identity.values()).values())}


def main() -> None:
    from facegraph.pipeline import FacePipeline

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labeled_sets", nargs="+", help="sets under the datasets folder")
    parser.add_argument("--limit", type=int, default=10, help="how many suggestions to judge")
    args = parser.parse_args()
    settings = ClusterSettings()
    for embeddings in load_sets(args.labeled_sets, FacePipeline.from_names(), progress=False):
        found = true_merges(embeddings, settings, args.limit)
        print(f"{embeddings.set_name} at {settings.name}: of the top {found['suggestions']} suggestions, "
              f"{found['judged']} join two persons with labeled faces and {found['right']} of those are true merges; "
              f"{found['to_find']} true merges were there to find")


if __name__ == "__main__":
    main()
