"""Resources: the store's one-process rule, the photo folder's messages, the MLflow experiment."""

import pytest
from dagster import Failure, build_resources
from dagster._core.errors import DagsterResourceFunctionError

from assets.resources import FaceCollection, MlflowTracking, PhotoFolder
from facegraph.errors import StoreLockedError


def test_a_second_opening_of_the_embedded_store_fails_with_store_locked(tmp_path):
    store = FaceCollection(path=str(tmp_path / "store"))
    with build_resources({"store": store}) as first:
        assert first.store.graph.list_persons() == []
        with pytest.raises(DagsterResourceFunctionError) as raised:
            with build_resources({"store": store}):
                pass
    chain = [raised.value, raised.value.__cause__, raised.value.__context__]
    assert any(isinstance(error, StoreLockedError) for error in chain), chain
    assert "open in another process" in str(raised.value) + str(raised.value.__cause__)


def test_store_is_released_after_the_step(tmp_path):
    store = FaceCollection(path=str(tmp_path / "store"))
    for _ in range(2):
        with build_resources({"store": store}) as resources:
            assert resources.store.where == str((tmp_path / "store").resolve())


def test_a_batch_without_photos_says_where_and_what_next(tmp_path):
    with pytest.raises(Failure, match=r"batch 'photos/gone' has no photos under .*delete the partition"):
        PhotoFolder(path=str(tmp_path)).batch("photos/gone")


def test_mlflow_resource_makes_its_experiment_once(tmp_path):
    mlflow = MlflowTracking(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment="facegraph-test",
                            artifact_location=str(tmp_path / "artifacts"))
    with build_resources({"mlflow": mlflow}) as resources:
        first = resources.mlflow.experiment_id()
        assert resources.mlflow.experiment_id() == first
        assert resources.mlflow.client.get_experiment(first).name == "facegraph-test"


def test_mlflow_run_url_never_shows_credentials(tmp_path):
    remote = MlflowTracking(tracking_uri="https://user:secret@mlflow.example.org/")
    assert remote.shown_uri == "https://mlflow.example.org/"
    local = MlflowTracking(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert local.shown_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
