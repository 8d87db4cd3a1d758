"""Sweeps on the small labeled sets with the real models, read back through the MLflow client."""

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from evaluation.embeddings import labeled_embeddings
from evaluation.sweep import (
    THRESHOLDS, VARIANTS, coarse_grid, combined_table, evaluate, labels_for, score, sweep, variant,
)
from facegraph.cluster_settings import ClusterSettings
from evaluation.tracking import log_sweep


@pytest.fixture(scope="module")
def embeddings(datasets, default_pipeline, tmp_path_factory):
    return labeled_embeddings(datasets / "five_celebs", default_pipeline, cache_dir=tmp_path_factory.mktemp("cache"),
                              progress=False)


@pytest.fixture(scope="module")
def celebs(datasets, default_pipeline, tmp_path_factory):
    return labeled_embeddings(datasets / "deepface_celebs", default_pipeline,
                              cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


def test_embeddings_are_computed_once_and_reused(embeddings, datasets, default_pipeline, tmp_path):
    cache_dir = tmp_path / "cache"
    first = labeled_embeddings(datasets / "five_celebs", default_pipeline, cache_dir=cache_dir, progress=False)
    [cached] = list(cache_dir.iterdir())
    assert cached.name.startswith(f"five_celebs-{first.fingerprint}-")
    again = labeled_embeddings(datasets / "five_celebs", default_pipeline, cache_dir=cache_dir, progress=False)
    assert again.seconds == first.seconds  # read back, not recomputed
    np.testing.assert_array_equal(again.vectors, first.vectors)
    np.testing.assert_array_equal(again.face_sizes, first.face_sizes)
    assert len(first.identities) == 117 and first.detection_rate == 1.0
    assert len(first.face_ids) >= 117 and (first.main_faces >= 0).all()
    assert (first.quality > 1).all() and (first.face_sizes >= 16).all()


def test_the_default_is_the_setting_with_the_best_worst_set_score(embeddings, celebs):
    result = sweep([embeddings, celebs], refine=False, progress=False)
    combined = result.combined()
    assert len(combined) == len(coarse_grid()) and len(result.rows) == 2 * len(combined)
    worst = {row["name"]: min(row["per_set"][s]["bcubed_f1"] for s in ("five_celebs", "deepface_celebs")) for row in combined}
    best_worst = max(worst.values())
    assert combined[0]["worst_bcubed_f1"] == best_worst
    tied = [row for row in combined if row["worst_bcubed_f1"] == best_worst]
    assert combined[0]["mean_bcubed_f1"] == max(row["mean_bcubed_f1"] for row in tied)  # ties go to the best mean
    assert result.chosen == combined[0]["settings"]
    # the chosen labels are that setting's clustering of each set
    again = evaluate(embeddings, [result.chosen])[0]
    assert score(embeddings, result.chosen_labels["five_celebs"])["bcubed_f1"] == again["bcubed_f1"]
    assert {row["variant"] for row in result.best_per_variant()} == {v.variant for v in VARIANTS}
    assert combined_table(result).count("\n") == len(VARIANTS) + 1


def test_sweep_logs_a_parent_run_with_the_sets_and_a_child_per_setting(embeddings, celebs, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    variants = (variant("components"), variant("density", min_neighbours=2))
    result = sweep([embeddings, celebs], variants, refine=False, progress=False)
    parent_id = log_sweep([embeddings, celebs], result, tracking_uri=uri, experiment="test-sweep")
    client = MlflowClient(tracking_uri=uri)
    parent = client.get_run(parent_id)
    assert parent.data.params["datasets"] == "five_celebs,deepface_celebs"
    inputs = {d.dataset.name: d for d in parent.inputs.dataset_inputs}
    assert inputs["five_celebs"].dataset.digest == embeddings.fingerprint
    assert {t.key: t.value for t in inputs["deepface_celebs"].tags}["photos"] == "61"
    assert parent.data.tags["arcface.sha256"] == embeddings.models[1]["sha256"]
    assert {a.path for a in client.list_artifacts(parent_id)} == {"bcubed_f1_vs_tau.png", "person_sizes_at_chosen.png"}
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'", max_results=1000)
    assert len(children) == len(result.combined()) == 2 * len(THRESHOLDS)
    assert all("None" not in child.data.params.values() for child in children)
    child = next(c for c in children if c.data.params["method"] == "components" and float(c.data.params["threshold"]) == 0.4)
    assert "min_neighbours" not in child.data.params
    row = next(r for r in result.rows if r["name"] == "components tau=0.40" and r["set"] == "five_celebs")
    assert child.data.metrics["five_celebs.bcubed_f1"] == pytest.approx(row["bcubed_f1"])
    assert set(child.data.metrics) >= {f"deepface_celebs.{key}" for key in ("pairwise_f1", "nmi", "persons",
                                                                             "singleton_share", "detection_rate")}
    assert parent.data.metrics["chosen_worst_bcubed_f1"] == pytest.approx(result.combined()[0]["worst_bcubed_f1"])
    assert parent.data.params["chosen_method"] == result.chosen.method


def test_incremental_assignment_without_cluster_all(embeddings):
    from evaluation.incremental import incremental_labels, photo_batches

    batches = photo_batches(embeddings, 4)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(embeddings.face_ids)))
    whole = score(embeddings, labels_for(embeddings, ClusterSettings()))["bcubed_f1"]
    batched = score(embeddings, incremental_labels(embeddings, batches=4, progress=False))
    one_by_one = score(embeddings, incremental_labels(embeddings, batches=4, one_by_one=True, progress=False))
    print(f"five_celebs BCubed F1: cluster_all {whole:.4f}, assign_persons per batch {batched['bcubed_f1']:.4f}, "
          f"assign_person per face {one_by_one['bcubed_f1']:.4f}")
    assert abs(batched["bcubed_f1"] - whole) <= 0.005, batched  # the bar for the incremental gap
    # one face at a time merges no persons: two early persons of one actor stay two (0.838 here, precision 1.0)
    assert one_by_one["bcubed_precision"] >= 0.95 and one_by_one["bcubed_f1"] >= 0.8, one_by_one



def test_a_person_larger_than_the_matrix_bound_stays_whole(embeddings, monkeypatch):
    import facegraph.clustering as module

    exact = labels_for(embeddings, ClusterSettings())
    assert np.bincount(exact).max() >= 20  # five_celebs' persons hold 20 to 30 faces
    # as if every person were larger than a matrix can hold (a child in a family library of 100k faces)
    monkeypatch.setattr(module, "MAX_LINKAGE_FACES", 10)
    over_the_graph = labels_for(embeddings, ClusterSettings())
    np.testing.assert_array_equal(over_the_graph, exact)
