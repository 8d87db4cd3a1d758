import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from evaluation.labeled import load_labeled_set, main_face, main_face_rule
from facegraph.pipeline import FacePipeline, PhotoError, PhotoFaces


@pytest.fixture(scope="session")
def labeled_runs(datasets):
    """Main faces of five_celebs and deepface_celebs, per detector, computed once."""
    cache = {}

    def run(pipeline: FacePipeline, set_name: str):
        key = (pipeline.detector.name, set_name)
        if key not in cache:
            photos = load_labeled_set(datasets / set_name)
            results = list(pipeline.run([photo.path for photo in photos]))
            mains = [main_face(r, main_face_rule(set_name)) if isinstance(r, PhotoFaces) else None for r in results]
            cache[key] = (photos, results, mains)
        return cache[key]

    return run


@pytest.mark.parametrize("set_name", ["five_celebs", "deepface_celebs"])
def test_main_face_is_found_in_nearly_every_photo(pipeline, labeled_runs, set_name):
    photos, results, mains = labeled_runs(pipeline, set_name)
    assert all(isinstance(r, PhotoFaces) for r in results), [r for r in results if isinstance(r, PhotoError)]
    missed = [str(photo.path) for photo, face in zip(photos, mains) if face is None]
    rate = 1 - len(missed) / len(photos)
    print(f"{pipeline.detector.name} {set_name}: main face found in {rate:.1%} of {len(photos)} photos")
    assert rate >= 0.98, f"main face missed in {missed}"


def test_same_identity_pairs_score_above_different_ones(pipeline, labeled_runs):
    photos, _, mains = labeled_runs(pipeline, "five_celebs")
    kept = [(photo.identity, face.embedding) for photo, face in zip(photos, mains) if face is not None]
    identities = np.array([identity for identity, _ in kept])
    vectors = np.stack([vector for _, vector in kept])
    upper = np.triu_indices(len(kept), 1)
    same = (identities[:, None] == identities[None, :])[upper]
    auc = roc_auc_score(same, (vectors @ vectors.T)[upper])
    print(f"{pipeline.detector.name} five_celebs same/different identity ROC AUC: {auc:.4f}")
    assert auc >= 0.98


def test_faces_carry_unit_vectors_raw_norms_and_ids(pipeline, labeled_runs):
    _, results, _ = labeled_runs(pipeline, "five_celebs")
    faces = [face for result in results for face in result.faces]
    vectors = np.stack([face.embedding for face in faces])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors.shape[1] == 512 and vectors.dtype == np.float32
    assert all(face.quality_score > 1.0 for face in faces)  # the raw norm, not the normalised 1.0
    for result in results:
        assert [f.face_id for f in result.faces] == [f"{result.image_id}_face{n}" for n in range(len(result.faces))]
        lefts = [f.bbox[0] for f in result.faces]
        assert lefts == sorted(lefts)
        for face in result.faces:
            x1, y1, x2, y2 = face.bbox
            assert 0 <= x1 < x2 <= result.width and 0 <= y1 < y2 <= result.height


def test_bad_photos_are_reported_and_the_batch_goes_on(default_pipeline, datasets, broken_files):
    good = sorted((datasets / "five_celebs" / "Madonna").iterdir())[:3]
    paths = [good[0], *broken_files.values(), good[1], good[2]]
    results = list(FacePipeline(default_pipeline.detector, default_pipeline.embedder, batch_size=4).run(paths))
    assert [r.path for r in results] == [str(p) for p in paths]
    errors = {r.path: r.reason for r in results if isinstance(r, PhotoError)}
    assert set(errors) == {str(p) for p in broken_files.values()}
    assert all(errors.values())
    assert all(len(r.faces) >= 1 for r in results if isinstance(r, PhotoFaces))


def test_repeated_runs_give_identical_ids_and_embeddings(datasets):
    paths = sorted((datasets / "deepface_celebs" / "Jennifer_Aniston").iterdir())
    first = list(FacePipeline.from_names("scrfd").run(paths))
    second = list(FacePipeline.from_names("scrfd", batch_size=2).run(paths))
    for a, b in zip(first, second, strict=True):
        assert a.image_id == b.image_id
        assert [f.face_id for f in a.faces] == [f.face_id for f in b.faces]
        assert [f.bbox for f in a.faces] == [f.bbox for f in b.faces]
        for fa, fb in zip(a.faces, b.faces):
            np.testing.assert_array_equal(fa.embedding, fb.embedding)
