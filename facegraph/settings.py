"""The one settings object, read from `FACEGRAPH_*` environment variables; used only at the edges (CLI, Dagster)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from facegraph.face_gate import MIN_FACES_SHOWN
from facegraph.images import DEFAULT_BATCH_SIZE, DEFAULT_MAX_SIDE
from facegraph.places import default_cache_dir, default_data_dir


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACEGRAPH_")

    detector: str = Field("retinaface", description='"retinaface", "scrfd", or a path to a detector ONNX file')
    embedder: str = Field("arcface", description='"arcface", or a path to an ArcFace-style 112x112 ONNX file')
    model_dir: Path | None = Field(None, description="read model files from this folder instead of fetching them")
    cache_dir: Path | None = Field(None, description="where fetched weights are kept (default ~/.cache/facegraph)")
    max_side: int = Field(DEFAULT_MAX_SIDE, description="photos are decoded to at most this many pixels a side")
    batch_size: int = Field(DEFAULT_BATCH_SIZE, description="photos decoded and detected together")
    score_threshold: float | None = Field(None, description="lowest face detection score kept (default: the detector's)")
    min_face_size: int | None = Field(None, description="smallest face side kept, in decoded pixels (default: the "
                                      "detector's)")
    data: Path = Field(default_factory=default_data_dir, description="where facegraph keeps what it makes: the "
                       "embedded store, and for Dagster and the sweeps their tables, gallery, caches and MLflow store")
    store: Path | None = Field(None, description="embedded store folder (default: store/ in the data folder)")
    qdrant_url: str | None = Field(None, description="use a Qdrant server at this URL instead of the embedded store")
    qdrant_api_key: SecretStr | None = Field(None, description="API key of the Qdrant server")
    min_faces_shown: int = Field(MIN_FACES_SHOWN, ge=1, description="the People page lists persons of fewer faces apart, as "
                                 "small, unless named (as Immich's minimum faces)")

    @model_validator(mode="after")
    def _one_store(self):
        if self.store and self.qdrant_url:
            raise ValueError("give the store as a folder (--store, FACEGRAPH_STORE) or as a Qdrant server (--url, "
                             f"FACEGRAPH_QDRANT_URL), not both: got {self.store} and {self.qdrant_url}")
        return self

    @property
    def store_folder(self) -> Path:
        """The embedded store: `store`, else `store/` in the data folder (the CLI's and Dagster's one default)."""
        return self.store or self.data / "store"

    @property
    def thumbnails_folder(self) -> Path:
        """Where the People page keeps its face thumbnails: `thumbnails/` in the cache folder."""
        return (self.cache_dir or default_cache_dir()) / "thumbnails"

    # The persons API and the face pipeline load onnxruntime, OpenCV and faiss: imported when asked for, so that
    # `facegraph --help` and a mistyped command answer at once.

    def pipeline(self):
        """The face pipeline these settings name (a `FacePipeline`)."""
        from facegraph.pipeline import FacePipeline

        return FacePipeline.from_names(
            self.detector, self.embedder, model_dir=self.model_dir, cache_dir=self.cache_dir,
            score_threshold=self.score_threshold, min_face_size=self.min_face_size,
            max_side=self.max_side, batch_size=self.batch_size)

    def graph(self):
        """The `FaceGraph` these settings name; its models load only when a call needs them."""
        from facegraph.persons import FaceGraph

        key = self.qdrant_api_key.get_secret_value() if self.qdrant_api_key else None
        return FaceGraph(self.store_folder if not self.qdrant_url else None, url=self.qdrant_url, api_key=key,
                         pipeline=self.pipeline)

