"""What every face detector shares: input sizing, letterboxing, thresholds, NMS and the tight-crop retry.

A detector family (`retinaface.py`, `scrfd.py`) adds only its preprocessing and its output decoding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort

STRIDE = 32  # both families downsample by 32: inputs must be multiples of it
TIGHT_CROP_PADDING = 0.3  # share of the longer side added on each side before the retry


@dataclass(frozen=True)
class Detections:
    """Faces found in one image, in that image's pixel coordinates."""

    boxes: np.ndarray  # (n, 4) float32 x1, y1, x2, y2
    scores: np.ndarray  # (n,) float32
    landmarks: np.ndarray  # (n, 5, 2) float32: eyes, nose, mouth corners (subject's right first)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))

    def __len__(self) -> int:
        return len(self.scores)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the boxes kept, highest score first."""
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        width = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]))
        height = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]))
        overlap = width * height
        iou = overlap / np.maximum(areas[best] + areas[rest] - overlap, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def auto_input_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(height, width) of the detector input for an image: its own size, shrunk to `max_side`, padded to STRIDE.

    Small photos are not blown up to a fixed square: a 250x250 photo runs at 256x256, not 640x640.
    """
    factor = min(1.0, max_side / max(height, width))
    return (
        max(STRIDE, math.ceil(height * factor / STRIDE) * STRIDE),
        max(STRIDE, math.ceil(width * factor / STRIDE) * STRIDE),
    )


def letterbox(pixels: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio into the top-left of a zero canvas of `size` (height, width)."""
    height, width = pixels.shape[:2]
    factor = min(size[0] / height, size[1] / width)
    resized_h, resized_w = max(1, round(height * factor)), max(1, round(width * factor))
    canvas = np.zeros((*size, 3), dtype=np.uint8)
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    canvas[:resized_h, :resized_w] = cv2.resize(pixels, (resized_w, resized_h), interpolation=interpolation)
    return canvas, factor


class FaceDetector:
    """A batched face detector over an onnxruntime session.

    Parameters
    ----------
    session : the model's session.
    score_threshold : the lowest detection score kept.
    nms_threshold : boxes overlapping a better one by more than this IoU are dropped.
    min_face_size : faces whose shorter box side is below this many pixels are dropped.
    input_size : fixed (height, width) of the detector input, or None to follow each image's size.
    max_input_side : with `input_size=None`, the longest input side.
    """

    name = "detector"

    def __init__(
        self,
        session: ort.InferenceSession,
        *,
        score_threshold: float = 0.5,
        nms_threshold: float = 0.4,
        min_face_size: int = 16,
        input_size: tuple[int, int] | None = None,
        max_input_side: int = 640,
    ):
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if input_size is not None and (input_size[0] % STRIDE or input_size[1] % STRIDE):
            raise ValueError(f"input_size must be multiples of {STRIDE}, got {input_size}")
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.output_names = [output.name for output in session.get_outputs()]
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.min_face_size = min_face_size
        self.input_size = tuple(input_size) if input_size else None
        self.max_input_side = max_input_side

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """Detect the faces of each RGB uint8 image; images of the same input size run as one batch.

        An image where nothing is found is tried once more with a border around it, because a face that fills
        the whole picture (a tight crop) is missed by detectors trained on faces in context.
        """
        results = self._detect_batched(images)
        missed = [i for i, found in enumerate(results) if not len(found)]
        if missed:
            padded = [_pad(images[i]) for i in missed]
            for i, (canvas, offset), found in zip(missed, padded, self._detect_batched([c for c, _ in padded])):
                results[i] = _shift(found, -offset)
        return results

    def input_size_for(self, image: np.ndarray) -> tuple[int, int]:
        return self.input_size or auto_input_size(*image.shape[:2], self.max_input_side)

    def prepare(self, images: list[np.ndarray]) -> list[tuple[list[int], np.ndarray, list[float]]]:
        """Group images by input size: (indices, input tensor, letterbox factors) per group."""
        groups: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(images):
            groups.setdefault(self.input_size_for(image), []).append(index)
        batches = []
        for size, indices in groups.items():
            boxed = [letterbox(images[i], size) for i in indices]
            batch = self.preprocess(np.stack([canvas for canvas, _ in boxed]))
            batches.append((indices, batch, [factor for _, factor in boxed]))
        return batches

    def _detect_batched(self, images: list[np.ndarray]) -> list[Detections]:
        results: list[Detections] = [Detections.empty()] * len(images)
        for indices, batch, factors in self.prepare(images):
            outputs = self.session.run(self.output_names, {self.input_name: batch})
            for row, (index, factor) in enumerate(zip(indices, factors)):
                boxes, scores, landmarks = self.decode(outputs, row, batch.shape[2:4], self.score_threshold)
                results[index] = self._select(boxes / factor, scores, landmarks / factor)
        return results

    def _select(self, boxes, scores, landmarks) -> Detections:
        keep = nms(boxes, scores, self.nms_threshold)
        boxes, scores, landmarks = boxes[keep], scores[keep], landmarks[keep]
        sides = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        keep = sides >= self.min_face_size
        return Detections(
            boxes[keep].astype(np.float32),
            scores[keep].astype(np.float32),
            landmarks[keep].reshape(-1, 5, 2).astype(np.float32),
        )

    def preprocess(self, batch: np.ndarray) -> np.ndarray:
        """(n, h, w, 3) RGB uint8 to the model's input tensor."""
        raise NotImplementedError

    def decode(self, outputs: list[np.ndarray], row: int, size: tuple[int, int], threshold: float):
        """Boxes (a, 4), scores (a,) and landmarks (a, 10) of batch row `row` scoring at least `threshold`, in
        input pixels, before NMS."""
        raise NotImplementedError


def _pad(image: np.ndarray) -> tuple[np.ndarray, int]:
    border = round(TIGHT_CROP_PADDING * max(image.shape[:2]))
    return cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_CONSTANT, value=0), border


def _shift(found: Detections, offset: float) -> Detections:
    return Detections(found.boxes + offset, found.scores, found.landmarks + offset)
