"""The resources the assets take: the models, the face collection, the photo folder, the output folder, MLflow.

Each hands the assets facegraph objects, not raw sessions or clients, and holds them only while a step runs.
`dagster_project.resources` configures them from the environment.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dagster import ConfigurableResource, Failure, InitResourceContext
from pydantic import Field, PrivateAttr

from assets.partitions import batches_in
from evaluation import EXPERIMENT
from facegraph.images import DEFAULT_BATCH_SIZE, DEFAULT_MAX_SIDE
from facegraph.models.weights import sample_photos_dir
from facegraph.persons import FaceGraph
from facegraph.pipeline import FacePipeline
from facegraph.places import default_store_dir
from facegraph.store.open import open_store

STORE_POOL = "facegraph_store"  # the concurrency pool of every step that opens the collection
LOCAL_MLFLOW_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves a local store by default


class FaceModels(ConfigurableResource):
    """The face pipeline: detector and embedder, one onnxruntime session per model per process."""

    detector: str = Field("retinaface", description='"retinaface", "scrfd", or a path to a detector ONNX file.')
    embedder: str = Field("arcface", description='"arcface", or a path to an ArcFace-style 112x112 ONNX file.')
    model_dir: str | None = Field(None, description="Read the model files from this folder instead of fetching them.")
    cache_dir: str | None = Field(None, description="Where fetched weights are kept (default ~/.cache/facegraph).")
    max_side: int = Field(DEFAULT_MAX_SIDE, description="Photos are decoded to at most this many pixels a side.")
    batch_size: int = Field(DEFAULT_BATCH_SIZE, description="Photos decoded and detected together.")
    score_threshold: float | None = Field(None, description="Lowest detection score kept (default: the detector's).")
    min_face_size: int | None = Field(None, description="Smallest face side kept, in pixels (default: the detector's).")

    _pipeline: FacePipeline = PrivateAttr()

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._pipeline = FacePipeline.from_names(
            self.detector, self.embedder, model_dir=self.model_dir, cache_dir=self.cache_dir,
            score_threshold=self.score_threshold, min_face_size=self.min_face_size,
            max_side=self.max_side, batch_size=self.batch_size,
        )

    @property
    def pipeline(self) -> FacePipeline:
        return self._pipeline


class FaceCollection(ConfigurableResource):
    """The face collection in Qdrant: the embedded store at `path`, or a Qdrant server at `url`.

    The embedded store is opened by one process at a time, so the steps that take this resource share the
    `STORE_POOL` (limit 1); a second opening fails with `StoreLockedError`.
    """

    path: str | None = Field(None, description="Folder of the embedded store (Qdrant Edge). Not with `url`.")
    url: str | None = Field(None, description="URL of a Qdrant server or cluster, instead of the embedded store.")
    api_key: str | None = Field(None, description="API key of the Qdrant server, as "
                                                  "EnvVar('FACEGRAPH_QDRANT_API_KEY') so it never shows in config.")

    _graph: FaceGraph = PrivateAttr()

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._graph = FaceGraph(store=open_store(self.path, url=self.url, api_key=self.api_key))

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self._graph.close()

    @property
    def graph(self) -> FaceGraph:
        return self._graph

    @property
    def where(self) -> str:
        """Where the collection is, for run metadata (never the API key)."""
        return self.url or str((Path(self.path) if self.path else default_store_dir()).resolve())


class PhotoFolder(ConfigurableResource):
    """The folder of photos the graph is built from; each folder in it that holds photos is one batch."""

    path: str | None = Field(None, description="The photo folder (default: the sample photos that come with the "
                                               "model distribution, fetched on first use).")
    allow_mass_removal: bool = Field(False, description="Let a run remove photos gone from the folder even when "
                                     "they are all or many of its photos (as `facegraph sync --allow-mass-removal`); "
                                     "without it such a run fails and removes nothing.")

    def root(self) -> Path:
        return Path(self.path) if self.path else sample_photos_dir()

    def batches(self) -> dict[str, list[Path]]:
        """Partition key -> photos, for every batch in the folder."""
        return batches_in(self.root())

    def batch(self, key: str) -> list[Path]:
        """The photos of one batch."""
        photos = self.batches().get(key)
        if not photos:
            raise Failure(f"batch {key!r} has no photos under {self.root()}: its folder was moved, renamed or "
                          "emptied, or the photo folder setting changed; delete the partition or restore the folder")
        return photos


class DataFolder(ConfigurableResource):
    """The folder for what the graph writes outside the collection (the person gallery)."""

    path: str = Field(description="The folder; created on first use.")

    def file(self, name: str) -> Path:
        path = Path(self.path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


class MlflowTracking(ConfigurableResource):
    """An MLflow tracking store and the experiment that facegraph's runs go to."""

    tracking_uri: str = Field(description="MLflow tracking URI, e.g. sqlite:///data/mlflow.db or http://host:5000.")
    experiment: str = Field(EXPERIMENT, description="The experiment runs are logged to (created if missing).")
    artifact_location: str | None = Field(None, description="Where a new experiment keeps its artifacts.")
    ui_url: str | None = Field(None, description="Where the MLflow UI of this store is served (default: the "
                               "tracking URI when it is http(s), else http://127.0.0.1:5000, where `mlflow ui "
                               "--backend-store-uri <tracking URI>` serves a local store).")

    _client = PrivateAttr()

    def setup_for_execution(self, context: InitResourceContext) -> None:
        from mlflow.tracking import MlflowClient  # mlflow is slow to import; only the steps that log pay for it

        self._client = MlflowClient(self.tracking_uri)

    @property
    def client(self):
        """The `mlflow.tracking.MlflowClient` of the store."""
        return self._client

    @property
    def shown_uri(self) -> str:
        """The tracking URI without any user name or password in it, for run metadata."""
        parts = urlsplit(self.tracking_uri)
        if "@" not in parts.netloc:
            return self.tracking_uri  # also keeps sqlite:////abs/path as it is
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))

    def run_url(self, run_id: str) -> str:
        """The address of a run in the MLflow UI (never with credentials)."""
        base = self.ui_url or (self.shown_uri if self.tracking_uri.startswith(("http://", "https://"))
                               else LOCAL_MLFLOW_UI)
        experiment_id = self._client.get_run(run_id).info.experiment_id
        return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"

    def experiment_id(self) -> str:
        """The id of `experiment`, created on first use."""
        found = self._client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        return self._client.create_experiment(self.experiment, artifact_location=self.artifact_location)
