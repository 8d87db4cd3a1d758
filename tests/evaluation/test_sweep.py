"""A sweep on five_celebs with the real models, read back through the MLflow client."""

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from evaluation.embeddings import labeled_embeddings
from evaluation.sweep import THRESHOLDS, coarse_grid, sweep, table


@pytest.fixture(scope="module")
def embeddings(datasets, default_pipeline, tmp_path_factory):
    return labeled_embeddings(datasets / "five_celebs", default_pipeline, cache_dir=tmp_path_factory.mktemp("cache"),
                              progress=False)


def test_embeddings_are_computed_once_and_reused(embeddings, datasets, default_pipeline, tmp_path):
    cache_dir = tmp_path / "cache"
    first = labeled_embeddings(datasets / "five_celebs", default_pipeline, cache_dir=cache_dir, progress=False)
    [cached] = list(cache_dir.iterdir())
    assert cached.name.startswith(f"five_celebs-{first.fingerprint}-")
    again = labeled_embeddings(datasets / "five_celebs", default_pipeline, cache_dir=cache_dir, progress=False)
    assert again.seconds == first.seconds  # read back, not recomputed
    np.testing.assert_array_equal(again.vectors, first.vectors)
    assert len(first.identities) == 117 and first.detection_rate == 1.0
    assert len(first.face_ids) >= 117 and (first.main_faces >= 0).all()


def test_sweep_logs_a_parent_run_with_a_child_per_setting(embeddings, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    rows, parent_id = sweep(embeddings, tracking_uri=uri, experiment="test-sweep", refine=False)
    assert len(rows) == len(coarse_grid())
    client = MlflowClient(tracking_uri=uri)
    parent = client.get_run(parent_id)
    assert parent.data.params["dataset"] == "five_celebs"
    assert parent.data.tags["dataset.fingerprint"] == embeddings.fingerprint
    assert parent.data.tags["arcface.sha256"] == embeddings.models[1]["sha256"]
    assert {a.path for a in client.list_artifacts(parent_id)} == {"precision_recall_vs_tau.png", "person_sizes_at_best.png"}
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'", max_results=1000)
    assert len(children) == len(rows)
    child = next(c for c in children if c.data.params["method"] == "components" and float(c.data.params["threshold"]) == 0.4)
    row = next(r for r in rows if r["method"] == "components" and r["threshold"] == 0.4)
    assert child.data.metrics["bcubed_f1"] == pytest.approx(row["bcubed_f1"])
    assert set(child.data.metrics) >= {"pairwise_f1", "bcubed_precision", "bcubed_recall", "nmi", "persons",
                                       "singleton_share", "detection_rate"}
    assert parent.data.metrics["best_bcubed_f1"] == pytest.approx(max(r["bcubed_f1"] for r in rows))
    assert {float(c.data.params["threshold"]) for c in children} == set(THRESHOLDS)
    assert "| components |" in table(rows)


def test_incremental_assignment_without_cluster_all(embeddings):
    from evaluation.incremental import incremental_labels, photo_batches
    from evaluation.sweep import score

    batches = photo_batches(embeddings, 4)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(embeddings.face_ids)))
    labels = incremental_labels(embeddings, batches=4, threshold=0.3, progress=False)
    metrics = score(embeddings, labels)
    assert metrics["bcubed_precision"] >= 0.95 and metrics["bcubed_f1"] >= 0.8, metrics
