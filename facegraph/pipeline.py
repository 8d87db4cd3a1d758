"""Photos to embedded faces: decode, detect, align, embed, in batches.

Faces of a photo are numbered left to right (then top to bottom) by their box, so `face_id`
(`{image_id}_face{n}`) is the same in every run. Boxes and landmarks are in the pixels of the oriented,
full-size photo, even when it was decoded smaller.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from facegraph.errors import ImageDecodeError
from facegraph.images import DEFAULT_BATCH_SIZE, DEFAULT_MAX_SIDE, KnownPhoto, Photo, image_id_of, iter_photos
from facegraph.models import ArcFace, Detections, FaceDetector, ModelInfo, load_detector, load_embedder
from facegraph.models.align import crop



@dataclass(frozen=True)
class Face:
    """One detected, embedded face."""

    face_id: str
    image_id: str
    bbox: tuple[int, int, int, int]  # x1, y1, x2, y2
    landmarks: np.ndarray  # (5, 2)
    det_score: float
    embedding: np.ndarray  # (d,) float32, unit length
    quality_score: float  # the embedding's norm before normalising


@dataclass(frozen=True)
class PhotoFaces:
    """The faces of one photo that was read."""

    path: str
    image_id: str
    width: int
    height: int
    faces: list[Face] = field(default_factory=list)


@dataclass(frozen=True)
class PhotoError:
    """A photo that could not be read, and why."""

    path: str
    reason: str


class FacePipeline:
    """Detector + embedder, run over photos in batches.

    >>> pipeline = FacePipeline.from_names("scrfd")              # doctest: +SKIP
    >>> for result in pipeline.run(["a.jpg", "b.png"]): ...      # doctest: +SKIP
    """

    def __init__(self, detector: FaceDetector, embedder: ArcFace, *, max_side: int = DEFAULT_MAX_SIDE,
                 batch_size: int = DEFAULT_BATCH_SIZE):
        self.detector = detector
        self.embedder = embedder
        self.max_side = max_side
        self.batch_size = batch_size

    @classmethod
    def from_names(cls, detector: str | os.PathLike = "retinaface", embedder: str | os.PathLike = "arcface", *,
                   model_dir=None, cache_dir=None, score_threshold: float | None = None,
                   min_face_size: int | None = None, mirrored: bool = False, **kwargs) -> FacePipeline:
        """Load the models by pinned name or file path and build the pipeline; the detector's score and size bars
        are its own unless given (`mirrored`: see `ArcFace`)."""
        bars = {"score_threshold": score_threshold, "min_face_size": min_face_size}
        return cls(
            load_detector(detector, model_dir=model_dir, cache_dir=cache_dir,
                          **{name: value for name, value in bars.items() if value is not None}),
            load_embedder(embedder, model_dir=model_dir, cache_dir=cache_dir, mirrored=mirrored),
            **kwargs,
        )

    @property
    def models(self) -> list[ModelInfo]:
        """Names, files, hashes and providers of the models, for the run's record."""
        return [self.detector.info, self.embedder.info]

    def run(self, paths: Iterable[str | os.PathLike], *,
            is_known: Callable[[str], bool] | None = None) -> Iterator[PhotoFaces | PhotoError | KnownPhoto]:
        """One result per path, in order. A bad photo gives a `PhotoError` and the batch goes on. Each file is read
        once; a photo whose image id `is_known` accepts is neither decoded nor embedded (a `KnownPhoto`)."""
        batch: list[Photo | KnownPhoto | ImageDecodeError] = []
        for item in iter_photos(paths, max_side=self.max_side, is_known=is_known):
            batch.append(item)
            if len(batch) == self.batch_size:
                yield from self._process(batch)
                batch = []
        if batch:
            yield from self._process(batch)

    def run_arrays(self, images: list[np.ndarray]) -> list[PhotoFaces]:
        """The faces of in-memory RGB uint8 images (path "<array n>", image_id from the pixels)."""
        photos = [
            Photo(f"<array {n}>", image_id_of(np.ascontiguousarray(pixels).tobytes()), np.ascontiguousarray(pixels),
                  pixels.shape[1], pixels.shape[0], 1.0)
            for n, pixels in enumerate(images)
        ]
        return self._process(photos)

    def _process(self, batch: list[Photo | KnownPhoto | ImageDecodeError]) -> list[PhotoFaces | PhotoError | KnownPhoto]:
        photos = [item for item in batch if isinstance(item, Photo)]
        try:
            results = self._faces_of(photos)
        except Exception:  # one odd photo must not take its batch with it: find it by running them one by one
            results = {}
            for photo in photos:
                try:
                    results |= self._faces_of([photo])
                except Exception as exc:
                    results[id(photo)] = PhotoError(photo.path, f"the face models failed on it ({type(exc).__name__}: {exc})")
        return [results[id(item)] if isinstance(item, Photo)
                else PhotoError(item.path, item.reason) if isinstance(item, ImageDecodeError) else item
                for item in batch]

    def _faces_of(self, photos: list[Photo]) -> dict[int, PhotoFaces]:
        """The faces of decoded photos, by `id` of each photo, through the models in one batch."""
        found = self.detector.detect([photo.pixels for photo in photos])
        crops = [crop(photo.pixels, points) for photo, faces in zip(photos, found) for points in faces.landmarks]
        vectors, norms = self.embedder.embed(np.stack(crops) if crops else np.zeros((0, 112, 112, 3), np.uint8))
        results, start = {}, 0
        for photo, faces in zip(photos, found):
            end = start + len(faces)
            results[id(photo)] = _photo_faces(photo, faces, vectors[start:end], norms[start:end])
            start = end
        return results


def _photo_faces(photo: Photo, found: Detections, vectors: np.ndarray, norms: np.ndarray) -> PhotoFaces:
    boxes = found.boxes * photo.scale
    order = np.lexsort((boxes[:, 1], boxes[:, 0]))  # left to right, then top to bottom
    faces = []
    for n, i in enumerate(order):
        x1, y1, x2, y2 = boxes[i]
        bbox = (max(0, int(round(x1))), max(0, int(round(y1))),
                min(photo.width, int(round(x2))), min(photo.height, int(round(y2))))
        faces.append(Face(
            face_id=f"{photo.image_id}_face{n}",
            image_id=photo.image_id,
            bbox=bbox,
            landmarks=found.landmarks[i] * photo.scale,
            det_score=float(found.scores[i]),
            embedding=vectors[i],
            quality_score=float(norms[i]),
        ))
    return PhotoFaces(photo.path, photo.image_id, photo.width, photo.height, faces)


class LazyPipeline:
    """A face pipeline given as itself or as a factory: the models load on first use, not for every call."""

    def __init__(self, pipeline: FacePipeline | Callable[[], FacePipeline] | None = None):
        self._pipeline = pipeline if pipeline is not None else FacePipeline.from_names

    @property
    def loaded(self) -> bool:
        return isinstance(self._pipeline, FacePipeline)

    def get(self) -> FacePipeline:
        if not self.loaded:
            self._pipeline = self._pipeline()
        return self._pipeline

