"""Which faces are worth a person: the face gate of the People page.

A detector finds more than the people a collection is about: faces in the background, on posters and screens, and
things that are not faces at all (hair, a dog, a cartoon, a dark patch). A face is *unsure* when it is under half
the side of the largest face in its photo, or when its embedding says it is poor (quality under `POOR_QUALITY`)
and it is small. A person all of whose faces are unsure is shown in its own place ("unsure"), not among the persons;
an unsure face in a person with a sure face is shown with it. Nothing is dropped: clustering sees every face.

The bars are measured, not guessed (`python -m evaluation.face_gate`): on every dev set none of the faces a label
names is unsure (LFW's smallest labeled faces are 0.8 of the largest in their photo; the poorest labeled face
under `SMALL_SIDE` pixels has quality 14.0), and the share of persons without a labeled face it removes is printed
with the settings.
"""

from __future__ import annotations

import numpy as np

RELATIVE_SIDE = 0.5  # a face under this share of the side of its photo's largest face is in the background
POOR_QUALITY = 14.0  # and a face of a lower quality score (its embedding's norm) ...
SMALL_SIDE = 48  # ... and a shorter side, in pixels, is too poor to found a person
MIN_FACES_SHOWN = 2  # the People page lists a person of fewer faces apart, as small, unless it is named


def unsure_faces(sides: np.ndarray, quality: np.ndarray, photo_of: np.ndarray) -> np.ndarray:
    """(n,) bool: which faces are unsure, given each face's shorter box side, quality score and photo (any labels:
    faces of one photo share one)."""
    sides, quality = np.asarray(sides, np.float64), np.asarray(quality, np.float64)
    _, photo = np.unique(np.asarray(photo_of), return_inverse=True)
    largest = np.zeros(photo.max() + 1 if len(photo) else 0)
    np.maximum.at(largest, photo, sides)
    background = sides < RELATIVE_SIDE * largest[photo]
    return background | ((quality < POOR_QUALITY) & (sides < SMALL_SIDE))
