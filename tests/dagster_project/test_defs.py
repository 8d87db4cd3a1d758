"""The code location loads, and its resources follow the environment."""

import yaml
from dagster import AssetKey, Definitions, EnvVar

from assets.resources import STORE_POOL
from dagster_project import definitions
from dagster_project.resources import PROJECT_DIR, build_resources
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
