"""The code location's resources, configured from `FACEGRAPH_*` environment variables.

The library's settings (`facegraph.settings.Settings`: models, store, Qdrant server) plus four of the code
location's own, all with defaults that need nothing set, and named as `evaluation` names them:

| variable | default | what |
|---|---|---|
| `FACEGRAPH_DATA` | `data/` in the project (`Settings.data`) | batch tables, embedded store, gallery, MLflow, Dagster instance |
| `FACEGRAPH_PHOTOS` | the sample photos | the photo folder the sensor watches and `run_all` materialises |
| `FACEGRAPH_ALLOW_MASS_REMOVAL` | false | let a run remove photos gone from the folder however many (else it fails, removing none, when all or over a fifth of a folder's photos are gone) |
| `MLFLOW_TRACKING_URI` | `sqlite:///<data>/mlflow.db` | where MLflow runs go |
| `DAGSTER_DEPLOYMENT` | `local` | `local`: the defaults above; `server`: the collection must be a Qdrant server and MLflow a tracking server (both named), never a folder on the Dagster host |

The store is the embedded one in `<data dir>/store`, the CLI's default too, unless `FACEGRAPH_STORE` names another folder or
`FACEGRAPH_QDRANT_URL` a server; the server's API key is read from `FACEGRAPH_QDRANT_API_KEY` when a step runs
(`EnvVar`), so it never appears in run config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from dagster import EnvVar
from pydantic import AliasChoices, Field, model_validator

from assets.resources import DataFolder, FaceCollection, FaceModels, MlflowTracking, PhotoFolder
from assets.tables import BatchTableIOManager
from facegraph.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parents[1]
API_KEY_ENV = "FACEGRAPH_QDRANT_API_KEY"
DEPLOYMENTS = ("local", "server")  # as DAGSTER_DEPLOYMENT names them (Dagster's project_fully_featured does the same)


class DagsterSettings(Settings):
    """The library's settings plus where the asset graph reads photos and keeps what it makes."""

    photos: Path | None = Field(None, description="the photo folder to watch (default: the sample photos)")
    allow_mass_removal: bool = Field(False, description="let a run remove photos gone from the photo folder "
                                     "however many (as `facegraph sync --allow-mass-removal`)")
    mlflow_tracking_uri: str | None = Field(
        None, validation_alias=AliasChoices("mlflow_tracking_uri", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI, MLflow's own variable (default: sqlite in the data folder)")
    deployment: Literal[DEPLOYMENTS] = Field(
        "local", validation_alias=AliasChoices("deployment", "DAGSTER_DEPLOYMENT"),
        description="local: the embedded store and a local MLflow store by default; server: both must be servers")

    @model_validator(mode="after")
    def _servers_on_a_server(self):
        if self.deployment == "server" and not (self.qdrant_url and (self.mlflow_tracking_uri or "").startswith("http")):
            raise ValueError("DAGSTER_DEPLOYMENT=server needs FACEGRAPH_QDRANT_URL and an http(s) MLFLOW_TRACKING_URI: "
                             "a server deployment keeps no collection or runs in a folder of the Dagster host; got "
                             f"{self.qdrant_url!r} and {self.mlflow_tracking_uri!r}")
        return self

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance folder that `run_all` and `dagster dev` share."""
        return self.data.resolve() / "dagster"


def build_resources(settings: DagsterSettings | None = None) -> dict:
    """Resource key -> configured resource, for `Definitions`."""
    settings = settings or DagsterSettings()
    data = settings.data.resolve()
    if os.environ.get(API_KEY_ENV):
        api_key = EnvVar(API_KEY_ENV)
    else:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    return {
        "models": FaceModels(
            detector=settings.detector, embedder=settings.embedder, model_dir=_str(settings.model_dir),
            cache_dir=_str(settings.cache_dir), max_side=settings.max_side, batch_size=settings.batch_size,
            score_threshold=settings.score_threshold, min_face_size=settings.min_face_size,
        ),
        "store": FaceCollection(
            path=None if settings.qdrant_url else str(settings.store_folder.resolve()),
            url=settings.qdrant_url, api_key=api_key,
        ),
        "photos": PhotoFolder(path=_str(settings.photos), allow_mass_removal=settings.allow_mass_removal),
        "data": DataFolder(path=str(data)),
        "batch_tables": BatchTableIOManager(base_dir=str(data / "batches")),
        "mlflow": MlflowTracking(
            tracking_uri=settings.mlflow_tracking_uri or f"sqlite:///{data / 'mlflow.db'}",
            artifact_location=str(data / "mlflow-artifacts"),
        ),
    }


def _str(path: Path | None) -> str | None:
    return str(path) if path is not None else None
