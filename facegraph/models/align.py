"""Five-point alignment to the ArcFace template: a similarity transform, then a 112x112 crop."""

from __future__ import annotations

import cv2
import numpy as np

CROP_SIZE = 112
# Where ArcFace expects the eyes, nose tip and mouth corners in a 112x112 crop (InsightFace `arcface_dst`).
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def estimate_transform(landmarks: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform (rotation, uniform scale, shift) taking `landmarks` onto the template."""
    landmarks = np.asarray(landmarks, dtype=np.float32)
    if landmarks.shape != (5, 2):
        raise ValueError(f"landmarks must have shape (5, 2), got {landmarks.shape}")
    matrix, _ = cv2.estimateAffinePartial2D(landmarks, ARCFACE_TEMPLATE, method=cv2.LMEDS)
    if matrix is None:
        raise ValueError(f"no similarity transform fits landmarks {landmarks.tolist()}")
    return matrix


def crop(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The aligned 112x112 face crop of `image` (RGB uint8) for one face's five landmarks."""
    return cv2.warpAffine(image, estimate_transform(landmarks), (CROP_SIZE, CROP_SIZE), borderValue=0.0)
