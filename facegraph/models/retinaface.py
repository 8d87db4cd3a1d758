"""RetinaFace (MobileNet-0.25): box, class and landmark outputs over a fixed anchor grid."""

from __future__ import annotations

import functools

import numpy as np

from facegraph.models.detection import FaceDetector

STRIDES = (8, 16, 32)
ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCES = (0.1, 0.2)
BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)


@functools.lru_cache(maxsize=16)
def anchors_for(height: int, width: int) -> np.ndarray:
    """(a, 4) anchors cx, cy, w, h in pixels: row-major over each stride's grid, sizes innermost."""
    rows = []
    for stride, sizes in zip(STRIDES, ANCHOR_SIZES):
        ys, xs = np.mgrid[: -(-height // stride), : -(-width // stride)]
        centres = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride
        for_sizes = [np.hstack([centres, np.full((len(centres), 2), size)]) for size in sizes]
        rows.append(np.stack(for_sizes, axis=1).reshape(-1, 4))
    return np.concatenate(rows).astype(np.float32)


def decode_boxes(loc: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Regression offsets to x1, y1, x2, y2 boxes."""
    centres = anchors[:, :2] + loc[:, :2] * VARIANCES[0] * anchors[:, 2:]
    sizes = anchors[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
    return np.hstack([centres - sizes / 2, centres + sizes / 2])


def decode_landmarks(pts: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Regression offsets to five (x, y) points, flattened to (a, 10)."""
    offsets = pts.reshape(-1, 5, 2) * VARIANCES[0] * anchors[:, None, 2:]
    return (anchors[:, None, :2] + offsets).reshape(-1, 10)


class RetinaFace(FaceDetector):
    """RetinaFace detector: BGR input minus the ImageNet mean, no scaling."""

    name = "retinaface"

    def preprocess(self, batch: np.ndarray) -> np.ndarray:
        tensor = batch[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32, order="C")  # BGR, channels first, one copy
        tensor -= BGR_MEAN[:, None, None]
        return tensor

    def decode(self, outputs, row, size, threshold):
        # Exports name the outputs differently; their last dimension tells them apart (4 box, 2 class, 10 points).
        by_width = {output.shape[-1]: output[row] for output in outputs}
        loc, conf, pts = by_width[4], by_width[2], by_width[10]
        keep = conf[:, 1] >= threshold  # decode only the candidates
        anchors = anchors_for(*size)[keep]
        return decode_boxes(loc[keep], anchors), conf[keep, 1], decode_landmarks(pts[keep], anchors)
