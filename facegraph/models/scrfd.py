"""SCRFD (with keypoints): score, bbox and kps outputs for strides 8, 16 and 32, two anchors per cell."""

from __future__ import annotations

import functools

import numpy as np

from facegraph.models.detection import FaceDetector

STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2


@functools.lru_cache(maxsize=48)
def anchor_centres(height: int, width: int, stride: int) -> np.ndarray:
    """(a, 2) anchor centres in pixels, row-major, each repeated for the anchors of its cell."""
    ys, xs = np.mgrid[: height // stride, : width // stride]
    centres = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32) * stride
    return np.repeat(centres, ANCHORS_PER_CELL, axis=0)


def distance2bbox(centres: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Distances to the left, top, right and bottom edges into x1, y1, x2, y2 boxes."""
    return np.hstack([centres - distances[:, :2], centres + distances[:, 2:]])


def distance2kps(centres: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Offsets from each centre into five (x, y) points, flattened to (a, 10)."""
    return (centres[:, None, :] + distances.reshape(-1, 5, 2)).reshape(-1, 10)


class SCRFD(FaceDetector):
    """SCRFD detector: RGB input scaled to about [-1, 1]."""

    name = "scrfd"

    def preprocess(self, batch: np.ndarray) -> np.ndarray:
        tensor = batch.transpose(0, 3, 1, 2).astype(np.float32, order="C")  # one copy, then in place
        tensor -= 127.5
        tensor *= 1 / 128.0
        return tensor

    def decode(self, outputs, row, size, threshold):
        # InsightFace's export order: the three score maps, then the three box maps, then the three keypoint maps.
        boxes, scores, landmarks = [], [], []
        for level, stride in enumerate(STRIDES):
            centres = anchor_centres(*size, stride)
            score, box, kps = (_row(outputs[level + 3 * kind], row, len(centres)) for kind in range(3))
            keep = score[:, 0] >= threshold  # decode only the candidates
            scores.append(score[keep, 0])
            boxes.append(distance2bbox(centres[keep], box[keep] * stride))
            landmarks.append(distance2kps(centres[keep], kps[keep] * stride))
        return np.concatenate(boxes), np.concatenate(scores), np.concatenate(landmarks)


def _row(output: np.ndarray, row: int, anchors: int) -> np.ndarray:
    # Some SCRFD exports return (n, a, c), others flatten the batch into (n * a, c).
    return output[row] if output.ndim == 3 else output[row * anchors : (row + 1) * anchors]
