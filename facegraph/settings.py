"""The one settings object, read from `FACEGRAPH_*` environment variables; used only at the edges (CLI, Dagster)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
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
