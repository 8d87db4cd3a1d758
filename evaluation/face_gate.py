"""The People page's face gate (`facegraph.face_gate`) measured on the labeled sets, at the default settings:

    python -m evaluation.face_gate [SET...]   # default: every dev set

prints, per set, the labeled faces the gate calls unsure (must be 0), the persons without a labeled face and the
share of them it removes, and the persons the page shows before and after the gate at each "minimum faces to show"
(with the labeled faces that a minimum leaves in the "small" place, still one click away).
"""

from __future__ import annotations

import click
import numpy as np

from evaluation.embeddings import LabeledEmbeddings
from evaluation.sweep import DEV_SETS, labels_for, load_sets
from facegraph import face_gate
from facegraph.cluster_settings import ClusterSettings
from facegraph.pipeline import FacePipeline

MINIMUMS = (1, 2, 3)


def gate_row(embeddings: LabeledEmbeddings, labels: np.ndarray) -> dict:
    """What the gate and each minimum do to the persons of one clustered set."""
    labeled = np.zeros(len(embeddings.face_ids), bool)
    labeled[embeddings.main_faces[embeddings.main_faces >= 0]] = True
    unsure = face_gate.unsure_faces(embeddings.face_sizes, embeddings.quality, embeddings.image_ids)
    persons = int(labels.max()) + 1
    size = np.bincount(labels, minlength=persons)
    sure = np.bincount(labels, weights=~unsure, minlength=persons) > 0
    junk = np.bincount(labels, weights=labeled, minlength=persons) == 0
    row = {"set": embeddings.set_name, "faces": len(labels), "labeled unsure": int((unsure & labeled).sum()),
           "persons": persons, "without a label": int(junk.sum()),
           "of those gated": f"{(junk & ~sure).sum() / max(1, junk.sum()):.0%}"}
    for minimum in MINIMUMS:
        shown = sure & (size >= minimum)
        row[f"shown ≥{minimum}"] = int(shown.sum())
        row[f"labeled in small ≥{minimum}"] = int((labeled & sure[labels] & ~shown[labels]).sum())
    return row


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return "\n".join(lines + ["| " + " | ".join(str(v) for v in row.values()) + " |" for row in rows])


@click.command()
@click.argument("labeled_sets", nargs=-1)
def main(labeled_sets) -> None:
    """Measure the face gate on the labeled sets."""
    sets = load_sets(labeled_sets or DEV_SETS, FacePipeline.from_names())
    settings = ClusterSettings()
    rows = [gate_row(embeddings, labels_for(embeddings, settings)) for embeddings in sets]
    click.echo(f"face gate: unsure = side < {face_gate.RELATIVE_SIDE} of the photo's largest face, or quality < "
               f"{face_gate.POOR_QUALITY} and side < {face_gate.SMALL_SIDE} px; clustering {settings.name}")
    click.echo(markdown(rows))


if __name__ == "__main__":
    main()
