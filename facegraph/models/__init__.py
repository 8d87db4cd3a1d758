"""Face models: detectors (RetinaFace, SCRFD), alignment, the ArcFace embedder, and their weights.

The names below load on first use (PEP 562): `facegraph.models.weights` is read without loading onnxruntime.
"""

from importlib import import_module

_HOMES = {"ArcFace": "facegraph.models.arcface", "Detections": "facegraph.models.detection",
          "FaceDetector": "facegraph.models.detection", "DETECTORS": "facegraph.models.router",
          "ModelInfo": "facegraph.models.router", "load_detector": "facegraph.models.router",
          "load_embedder": "facegraph.models.router"}

__all__ = ["ArcFace", "Detections", "FaceDetector", "DETECTORS", "ModelInfo", "load_detector", "load_embedder"]


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'facegraph.models' has no attribute {name!r}")
