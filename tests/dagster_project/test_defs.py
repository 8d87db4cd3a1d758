"""The code location loads, and its resources follow the environment."""

import pytest
import yaml
from dagster import AssetKey, Definitions, EnvVar, TableSchema

from assets.resources import STORE_POOL
from assets.tables import SCHEMA
from assets.versions import CLUSTERING_VERSION, FACES_VERSION, models_code_version
from dagster_project import definitions
from dagster_project.resources import PROJECT_DIR, DagsterSettings, build_resources
from dagster_project.run_all import INSTANCE_TEMPLATE


def test_definitions_load():
    defs = definitions.defs
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert graph.get_all_asset_keys() == {
        AssetKey("batch_faces"), AssetKey("collection_batch"), AssetKey("persons"), AssetKey("person_gallery"),
        AssetKey("threshold_sweep")}
    assert {key.name for key in graph.asset_check_keys} == {
        "embeddings_are_unit_vectors", "collection_holds_the_batches", "person_shares_under_alarms"}
    assert {"photo_batch", "recluster", "sweep"} <= {job.name for job in defs.resolve_all_job_defs()}
    assert {job.name for job in defs.resolve_sensor_def("photo_folder_sensor").jobs} == {"photo_batch", "recluster"}
    assert defs.resolve_schedule_def("nightly_recluster").cron_schedule == "0 3 * * *"


def test_every_asset_has_an_owner_a_layer_and_a_description():
    graph = definitions.defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners == ["team:facegraph"], key
        assert node.tags["layer"] in {"faces", "collection", "persons", "gallery", "evaluation"}, key
        assert node.description, key


def test_the_sensor_and_the_schedule_say_what_they_do():
    defs = definitions.defs
    assert "photo folder" in defs.resolve_sensor_def("photo_folder_sensor").description
    assert "03:00" in defs.resolve_schedule_def("nightly_recluster").description


def test_batch_faces_declares_its_column_schema():
    node = definitions.defs.resolve_asset_graph().get(AssetKey("batch_faces"))
    schema = node.metadata["dagster/column_schema"]  # shown in the UI before any run
    assert isinstance(schema, TableSchema)
    assert [column.name for column in schema.columns] == SCHEMA.names


def test_code_versions_follow_the_configured_models(monkeypatch):
    for name in ("FACEGRAPH_DETECTOR", "FACEGRAPH_EMBEDDER", "FACEGRAPH_MAX_SIDE", "FACEGRAPH_SCORE_THRESHOLD",
                 "FACEGRAPH_MIN_FACE_SIZE"):
        monkeypatch.delenv(name, raising=False)

    def versions(**settings):
        graph = definitions.build_definitions(DagsterSettings(**settings)).resolve_asset_graph()
        return {key.to_user_string(): graph.get(key).code_version for key in graph.get_all_asset_keys()}

    default = versions()
    assert default["batch_faces"] == FACES_VERSION  # the configured defaults are the pinned defaults
    assert default["collection_batch"] == default["persons"] == CLUSTERING_VERSION
    scrfd = versions(detector="scrfd")
    assert scrfd["batch_faces"] == models_code_version("scrfd") != FACES_VERSION
    assert {key: value for key, value in scrfd.items() if key != "batch_faces"} == {
        key: value for key, value in default.items() if key != "batch_faces"}
    assert versions(min_face_size=24)["batch_faces"] == models_code_version(min_face_size=24)


def test_every_step_that_opens_the_store_is_in_the_store_pool():
    defs = definitions.defs
    steps = [*defs.assets, *defs.asset_checks]
    opening = {step.op.name for step in steps if "store" in step.required_resource_keys}
    assert opening == {"collection_batch", "persons", "person_gallery",
                       "collection_batch_collection_holds_the_batches", "persons_person_shares_under_alarms"}
    assert all(step.op.pool == STORE_POOL for step in steps if step.op.name in opening)
    assert all(step.op.pool is None for step in steps if step.op.name not in opening)  # batches run in parallel


def test_instance_template_lets_one_step_at_a_time_into_a_pool():
    config = yaml.safe_load(INSTANCE_TEMPLATE.read_text())
    assert config["concurrency"]["pools"] == {"granularity": "op", "default_limit": 1}


def test_defaults_need_nothing_set(monkeypatch):
    for name in ("FACEGRAPH_DATA", "FACEGRAPH_PHOTOS", "FACEGRAPH_STORE", "FACEGRAPH_QDRANT_URL",
                 "FACEGRAPH_QDRANT_API_KEY", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    resources = build_resources()
    data = PROJECT_DIR / "data"
    assert resources["store"].path == str(data / "store") and resources["store"].url is None
    assert resources["photos"].path is None  # the sample photos
    assert resources["batch_tables"].base_dir == str(data / "batches")
    assert resources["mlflow"].tracking_uri == f"sqlite:///{data / 'mlflow.db'}"


def test_resources_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FACEGRAPH_DATA", str(tmp_path))
    monkeypatch.setenv("FACEGRAPH_PHOTOS", str(tmp_path / "photos"))
    monkeypatch.setenv("FACEGRAPH_DETECTOR", "scrfd")
    monkeypatch.setenv("FACEGRAPH_QDRANT_URL", "http://127.0.0.1:6333")
    monkeypatch.setenv("FACEGRAPH_QDRANT_API_KEY", "secret")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    resources = build_resources()
    assert resources["models"].detector == "scrfd"
    assert resources["store"].path is None and resources["store"].url == "http://127.0.0.1:6333"
    assert resources["store"].api_key == EnvVar("FACEGRAPH_QDRANT_API_KEY")  # read when a step runs, never shown
    assert resources["photos"].path == str(tmp_path / "photos")
    assert resources["batch_tables"].base_dir == str(tmp_path / "batches")
    assert resources["mlflow"].tracking_uri == "http://127.0.0.1:5000"


def test_a_server_deployment_refuses_to_keep_the_collection_on_the_dagster_host(monkeypatch):
    for name in ("FACEGRAPH_STORE", "FACEGRAPH_QDRANT_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_DEPLOYMENT", "server")
    with pytest.raises(ValueError, match="DAGSTER_DEPLOYMENT=server needs FACEGRAPH_QDRANT_URL"):
        build_resources()
    monkeypatch.setenv("FACEGRAPH_QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    resources = build_resources()
    assert resources["store"].path is None and resources["store"].url == "http://qdrant:6333"
    assert resources["mlflow"].tracking_uri == "http://mlflow:5000"
    monkeypatch.setenv("DAGSTER_DEPLOYMENT", "staging")
    with pytest.raises(ValueError, match="local"):
        build_resources()
