"""Code versions: what an asset's result depends on besides its inputs, hashed, so Dagster marks an asset (and,
through it, everything downstream) stale when a pinned model or a default setting changes.

Both are computed at import from pinned values, never from files: the same code gives the same versions.

- `batch_faces`: the face models and the settings that change what they find (`models_code_version`). A pinned
  model counts by its SHA-256 from `facegraph.models.weights.PINNED`; a model given as a file path counts by
  its path only, so replacing that file in place is not noticed (rematerialise the batches by hand then). The
  table schema is part of it too: a new column is a new version of every table.
- `collection_batch`, `persons`: the clustering defaults, `ClusterSettings().to_dict()` (`clustering_code_version`).
  A run that overrides them in its run config is recorded with its settings as metadata, not as a version.
"""

from __future__ import annotations

import hashlib
import inspect
import json

from assets.tables import SCHEMA
from facegraph.cluster_settings import ClusterSettings
from facegraph.images import DEFAULT_MAX_SIDE
from facegraph.models.detection import FaceDetector
from facegraph.models.weights import PINNED

# what the detector keeps when the resource leaves a setting unset (None): its own defaults
DETECTOR_DEFAULTS = {name: parameter.default for name, parameter in
                     inspect.signature(FaceDetector.__init__).parameters.items()
                     if name in ("score_threshold", "min_face_size")}


def version_of(values: dict) -> str:
    """A short, stable hash of a JSON-able dict (key order does not matter)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:12]


def model_identity(model: str) -> str:
    """A pinned model by its SHA-256, any other model by its path (its content is not read)."""
    return f"sha256:{PINNED[model].sha256}" if model in PINNED else f"path:{model}"


def models_code_version(detector: str = "retinaface", embedder: str = "arcface", *, max_side: int = DEFAULT_MAX_SIDE,
                        score_threshold: float | None = None, min_face_size: int | None = None) -> str:
    """The code version of `batch_faces` for these models and detection settings (`FaceModels`' fields; the
    batch size, model folder and cache do not change a result and do not count)."""
    return version_of({
        "detector": model_identity(detector),
        "embedder": model_identity(embedder),
        "max_side": max_side,
        "score_threshold": DETECTOR_DEFAULTS["score_threshold"] if score_threshold is None else score_threshold,
        "min_face_size": DETECTOR_DEFAULTS["min_face_size"] if min_face_size is None else min_face_size,
        "table_schema": [(field.name, str(field.type)) for field in SCHEMA],
    })


def clustering_code_version(settings: dict | None = None) -> str:
    """The code version of the assets that cluster, for `ClusterSettings(**settings).to_dict()` (default: the
    library's defaults)."""
    return version_of(ClusterSettings(**(settings or {})).to_dict())


FACES_VERSION = models_code_version()
CLUSTERING_VERSION = clustering_code_version()
