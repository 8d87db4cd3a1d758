"""The one settings object, read from `FACEGRAPH_*` environment variables; used only at the edges (CLI, Dagster)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from facegraph.images import DEFAULT_BATCH_SIZE, DEFAULT_MAX_SIDE


def default_data_dir() -> Path:
    """Where runs keep what they make (embeddings cache, MLflow store, Dagster's tables, store and gallery):
    `$FACEGRAPH_DATA`, else `data/` in the project folder (git ignores it)."""
    return Path(os.environ.get("FACEGRAPH_DATA", Path(__file__).resolve().parents[1] / "data"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACEGRAPH_")

    detector: str = Field("retinaface", description='"retinaface", "scrfd", or a path to a detector ONNX file')
    embedder: str = Field("arcface", description='"arcface", or a path to an ArcFace-style 112x112 ONNX file')
    model_dir: Path | None = Field(None, description="read model files from this folder instead of fetching them")
    cache_dir: Path | None = Field(None, description="where fetched weights are kept (default ~/.cache/facegraph)")
    max_side: int = Field(DEFAULT_MAX_SIDE, description="photos are decoded to at most this many pixels a side")
    batch_size: int = Field(DEFAULT_BATCH_SIZE, description="photos decoded and detected together")
    score_threshold: float = Field(0.5, description="lowest face detection score kept")
    min_face_size: int = Field(16, description="smallest face side kept, in decoded pixels")
    store: Path | None = Field(None, description="embedded store folder (default ~/.local/share/facegraph/store)")
    qdrant_url: str | None = Field(None, description="use a Qdrant server at this URL instead of the embedded store")
    qdrant_api_key: SecretStr | None = Field(None, description="API key of the Qdrant server")

    @model_validator(mode="after")
    def _one_store(self):
        if self.store and self.qdrant_url:
            raise ValueError("give the store as a folder (--store, FACEGRAPH_STORE) or as a Qdrant server (--url, "
                             f"FACEGRAPH_QDRANT_URL), not both: got {self.store} and {self.qdrant_url}")
        return self

    # The persons API and the face pipeline load onnxruntime, OpenCV and faiss: imported when asked for, so that
    # `facegraph --help` and a mistyped command answer at once.

    def pipeline(self):
        """The face pipeline these settings name (a `FacePipeline`)."""
        from facegraph.pipeline import FacePipeline

        return FacePipeline.from_names(
            self.detector, self.embedder, model_dir=self.model_dir, cache_dir=self.cache_dir,
            detector_settings={"score_threshold": self.score_threshold, "min_face_size": self.min_face_size},
            max_side=self.max_side, batch_size=self.batch_size)

    def graph(self):
        """The `FaceGraph` these settings name; its models load only when a call needs them."""
        from facegraph.persons import FaceGraph

        key = self.qdrant_api_key.get_secret_value() if self.qdrant_api_key else None
        return FaceGraph(self.store if not self.qdrant_url else None, url=self.qdrant_url, api_key=key,
                         pipeline=self.pipeline)

