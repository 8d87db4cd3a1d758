import pytest

from evaluation.labeled import load_labeled_set, main_face, main_face_rule
from facegraph.pipeline import Face, PhotoFaces


def face(n, bbox):
    return Face(f"img_face{n}", "img", bbox, None, 0.9, None, 20.0)


PHOTO = PhotoFaces("p.jpg", "img", 250, 250, [
    face(0, (5, 5, 105, 125)),      # largest, off centre
    face(1, (100, 100, 160, 170)),  # smaller, at the centre
])


def test_centre_rule_picks_the_face_nearest_the_centre():
    assert main_face(PHOTO, "centre").face_id == "img_face1"


def test_largest_rule_picks_the_largest_face():
    assert main_face(PHOTO, "largest").face_id == "img_face0"


def test_a_photo_without_faces_has_no_main_face():
    assert main_face(PhotoFaces("p.jpg", "img", 10, 10, []), "largest") is None


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="rule must be 'largest' or 'centre', got 'middle'"):
        main_face(PHOTO, "middle")


def test_lfw_uses_the_centre_rule_other_sets_the_largest():
    assert main_face_rule("lfw") == "centre" and main_face_rule("five_celebs") == "largest"


def test_a_labeled_set_is_a_folder_per_identity(datasets):
    photos = load_labeled_set(datasets / "five_celebs")
    assert len(photos) == 117 and len({p.identity for p in photos}) == 5
    assert all(p.path.parent.name == p.identity for p in photos)


def test_a_folder_without_identity_folders_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected <identity>/<photo> folders"):
        load_labeled_set(tmp_path)
