"""The sweep asset on five_celebs, with the real models, read back through the MLflow client."""

from dagster import UrlMetadataValue, instance_for_test
from mlflow.tracking import MlflowClient

from evaluation import EXPERIMENT
from dagster_project.definitions import build_definitions
from dagster_project.resources import DagsterSettings


def test_sweep_asset_logs_a_sweep_and_reports_the_best_setting(datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("FACEGRAPH_DATA", str(tmp_path))  # the embeddings cache
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    defs = build_definitions(DagsterSettings(data=tmp_path, photos=datasets / "five_celebs", mlflow_tracking_uri=uri))
    with instance_for_test() as instance:
        result = defs.resolve_job_def("sweep").execute_in_process(
            instance=instance, run_config={"ops": {"threshold_sweep": {"config": {
                "labeled_sets": ["five_celebs", "deepface_celebs"], "refine": False}}}})
    assert result.success
    [materialization] = result.asset_materializations_for_node("threshold_sweep")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["labeled_sets"] == "five_celebs, deepface_celebs" and metadata["photos"] == 117 + 61
    assert 0.9 <= metadata["chosen_worst_bcubed_f1"] <= 1.0 and "| components tau=" in metadata["best_per_method"]
    parent = MlflowClient(uri).get_run(metadata["mlflow_parent_run"])
    assert parent.data.metrics["chosen_worst_bcubed_f1"] == metadata["chosen_worst_bcubed_f1"]
    assert int(parent.data.params["settings"]) == metadata["settings"]
    assert MlflowClient(uri).get_experiment(parent.info.experiment_id).name == EXPERIMENT
    run_url = materialization.metadata["mlflow_run"]
    assert isinstance(run_url, UrlMetadataValue)  # a local store: where `mlflow ui` serves it
    assert run_url.url == f"http://127.0.0.1:5000/#/experiments/{parent.info.experiment_id}/runs/{parent.info.run_id}"
    assert metadata["mlflow_tracking_uri"] == uri and metadata["refine"] is False  # named as in SweepConfig
