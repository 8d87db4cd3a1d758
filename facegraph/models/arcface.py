"""ArcFace-style recognisers: an aligned 112x112 RGB face in, one embedding vector out."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort


class ArcFace:
    """Batched embedder. Returns unit-length vectors and their raw norms (higher means a clearer face).

    `mirrored` adds the embedding of the mirrored face to the face's own (flip test-time augmentation), at twice the
    embedding's cost; the norm (the quality score) stays the face's own. Measured, it is not worth it here
    (README, "The simulated reviewer")."""

    name = "arcface"

    def __init__(self, session: ort.InferenceSession, *, batch_size: int = 64, mirrored: bool = False):
        self.session, self.mirrored = session, mirrored
        self.name = "arcface+mirror" if mirrored else "arcface"
        self.input_name = session.get_inputs()[0].name
        self.output_name = session.get_outputs()[0].name
        self.dimension = session.get_outputs()[0].shape[-1]
        self.batch_size = batch_size

    def preprocess(self, crops: np.ndarray) -> np.ndarray:
        """(n, 112, 112, 3) RGB uint8 to the model input: scaled to [-1, 1], channels first."""
        tensor = crops.transpose(0, 3, 1, 2).astype(np.float32, order="C")  # one copy, then in place
        tensor -= 127.5
        tensor *= 1 / 127.5
        return tensor

    def embed(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings (n, d) float32 of unit length, and the norms (n,) they had before normalising."""
        vectors, norms = self._embed(crops)
        if self.mirrored:
            both = vectors + self._embed(np.ascontiguousarray(crops[:, :, ::-1]))[0]
            vectors = both / np.maximum(np.linalg.norm(both, axis=1), 1e-12)[:, None]
        return vectors, norms

    def _embed(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raw = [
            self.session.run([self.output_name], {self.input_name: self.preprocess(crops[start : start + self.batch_size])})[0]
            for start in range(0, len(crops), self.batch_size)
        ]
        vectors = np.concatenate(raw).astype(np.float32) if raw else np.zeros((0, self.dimension), np.float32)
        norms = np.linalg.norm(vectors, axis=1)
        return vectors / np.maximum(norms, 1e-12)[:, None], norms
