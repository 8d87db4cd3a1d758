"""Code versions: set on the assets, the same from run to run, and new when a pinned model or a default changes."""

import os
import subprocess
import sys
from dataclasses import replace

from dagster import AssetKey

from assets import batch_faces, collection_batch, persons
from assets.versions import (
    CLUSTERING_VERSION, FACES_VERSION, clustering_code_version, model_identity, models_code_version,
)
from facegraph.cluster_settings import ClusterSettings
from facegraph.models import weights


def test_the_assets_carry_the_code_versions():
    assert batch_faces.code_versions_by_key[AssetKey("batch_faces")] == FACES_VERSION
    assert collection_batch.code_versions_by_key[AssetKey("collection_batch")] == CLUSTERING_VERSION
    assert persons.code_versions_by_key[AssetKey("persons")] == CLUSTERING_VERSION
    assert FACES_VERSION != CLUSTERING_VERSION and len(FACES_VERSION) == 12


def test_code_versions_are_the_same_in_every_process():
    # another process, with another seed of str hashing (set and dict order of strings may differ by it)
    code = "from assets.versions import CLUSTERING_VERSION, FACES_VERSION; print(FACES_VERSION, CLUSTERING_VERSION)"
    for seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.stdout.split() == [FACES_VERSION, CLUSTERING_VERSION]


def test_the_clustering_version_is_that_of_the_default_settings_in_any_order():
    assert clustering_code_version(ClusterSettings().to_dict()) == CLUSTERING_VERSION
    assert clustering_code_version(dict(reversed(ClusterSettings().to_dict().items()))) == CLUSTERING_VERSION
    assert clustering_code_version(ClusterSettings(threshold=0.3).to_dict()) != CLUSTERING_VERSION
    assert clustering_code_version(ClusterSettings().to_dict()) == CLUSTERING_VERSION
    assert clustering_code_version(dict(reversed(ClusterSettings().to_dict().items()))) == CLUSTERING_VERSION


def test_faces_version_changes_with_a_pinned_model_hash(monkeypatch):
    monkeypatch.setitem(weights.PINNED, "arcface", replace(weights.ARCFACE, sha256="0" * 64))
    assert models_code_version() != FACES_VERSION


def test_faces_version_changes_with_a_model_or_a_detection_setting():
    changed = [models_code_version("scrfd"), models_code_version(max_side=1024),
               models_code_version(score_threshold=0.6), models_code_version(min_face_size=24)]
    assert len({FACES_VERSION, *changed}) == 1 + len(changed)
    # an unset setting is the detector's default, so giving the default explicitly changes nothing
    assert models_code_version(score_threshold=0.5, min_face_size=16) == FACES_VERSION


def test_a_model_given_by_path_counts_by_its_path_only(tmp_path):
    assert model_identity("arcface") == f"sha256:{weights.ARCFACE.sha256}"
    assert model_identity(str(tmp_path / "mine.onnx")) == f"path:{tmp_path / 'mine.onnx'}"
    assert models_code_version(embedder=str(tmp_path / "mine.onnx")) != FACES_VERSION


def test_clustering_version_changes_with_a_default():
    modified = ClusterSettings().to_dict() | {"threshold": 0.3}
    assert clustering_code_version(modified) != CLUSTERING_VERSION
    assert clustering_code_version({"method": "leiden"}) != CLUSTERING_VERSION
    assert clustering_code_version({"quality_range": [18.0, 27.0]}) != CLUSTERING_VERSION
