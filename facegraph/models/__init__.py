"""Face models: detectors (RetinaFace, SCRFD), alignment, the ArcFace embedder, and their weights."""

from facegraph.models.arcface import ArcFace
from facegraph.models.detection import Detections, FaceDetector
from facegraph.models.router import DETECTORS, ModelInfo, load_detector, load_embedder

__all__ = ["ArcFace", "Detections", "FaceDetector", "DETECTORS", "ModelInfo", "load_detector", "load_embedder"]
